/*
 * allreduce - the gradient exchange of a data-parallel step, alone.
 *
 *   mpirun -np G allreduce [N]        N floats (default 95000: the 784-100-100-50-10
 *                                     network's parameters, 380 KB)
 *
 * Times, best of 7 rounds of 200 repetitions each, and prints one line per variant:
 *   allreduce   MPI_Allreduce(MPI_IN_PLACE, SUM) over the whole buffer (the library picks
 *               the algorithm; mpirun --mca coll_tuned_use_dynamic_rules 1 --mca
 *               coll_tuned_allreduce_algorithm K forces one);
 *   parts       what the sharded optimizer step does (engine.c): every rank sends every
 *               other rank that rank's part of its partial sums (Isend/Irecv), adds the
 *               partials of its own part in rank order, then the parts are exchanged
 *               back (the same bytes as one allreduce);
 *   parts-sum   the first half of that alone (what a rank waits for before its optimizer
 *               step).
 * Run under mpirun with any number of ranks; only rank 0 prints.
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void parts_sum(float *buf, const int *off, float *scratch, MPI_Request *req, int rank,
                      int size)
{
    int k = 0, mine = off[rank + 1] - off[rank];
    for (int q = 0; q < size; q++)
        if (q != rank)
            MPI_Irecv(scratch + (size_t)(q < rank ? q : q - 1) * mine, mine, MPI_FLOAT, q, 1,
                      MPI_COMM_WORLD, &req[k++]);
    for (int q = 0; q < size; q++)
        if (q != rank)
            MPI_Isend(buf + off[q], off[q + 1] - off[q], MPI_FLOAT, q, 1, MPI_COMM_WORLD,
                      &req[k++]);
    MPI_Waitall(k, req, MPI_STATUSES_IGNORE);
    float *own = buf + off[rank];
    for (int q = 0; q < size - 1; q++)
        for (int j = 0; j < mine; j++)
            own[j] += scratch[(size_t)q * mine + j];
}

static void parts_gather(float *buf, const int *off, MPI_Request *req, int rank, int size)
{
    int k = 0;
    for (int q = 0; q < size; q++)
        if (q != rank)
            MPI_Irecv(buf + off[q], off[q + 1] - off[q], MPI_FLOAT, q, 2, MPI_COMM_WORLD,
                      &req[k++]);
    for (int q = 0; q < size; q++)
        if (q != rank)
            MPI_Isend(buf + off[rank], off[rank + 1] - off[rank], MPI_FLOAT, q, 2,
                      MPI_COMM_WORLD, &req[k++]);
    MPI_Waitall(k, req, MPI_STATUSES_IGNORE);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    int n = argc > 1 ? atoi(argv[1]) : 95000;
    if (n < size) {
        if (rank == 0)
            fprintf(stderr, "usage: mpirun -np G allreduce [N >= G]\n");
        MPI_Finalize();
        return 2;
    }
    float *buf = malloc((size_t)n * sizeof *buf);
    float *scratch = malloc((size_t)n * sizeof *scratch);
    int *off = malloc(((size_t)size + 1) * sizeof *off);
    MPI_Request *req = malloc(2 * (size_t)size * sizeof *req);
    if (!buf || !scratch || !off || !req) {
        fprintf(stderr, "allreduce: out of memory\n");
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    for (int r = 0; r <= size; r++)
        off[r] = (int)((long long)n * r / size);
    for (int i = 0; i < n; i++)
        buf[i] = 1e-3f * (float)(i % 1000);

    const char *names[] = {"allreduce", "parts", "parts-sum"};
    for (int v = 0; v < 3; v++) {
        double best = 1e30;
        for (int round = 0; round < 7; round++) {
            MPI_Barrier(MPI_COMM_WORLD);
            double t0 = MPI_Wtime();
            for (int it = 0; it < 200; it++) {
                if (v == 0) {
                    MPI_Allreduce(MPI_IN_PLACE, buf, n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
                } else {
                    parts_sum(buf, off, scratch, req, rank, size);
                    if (v == 1)
                        parts_gather(buf, off, req, rank, size);
                }
                if (it % 16 == 15) /* keep the values bounded */
                    memset(buf, 0, (size_t)n * sizeof *buf);
            }
            double t = (MPI_Wtime() - t0) / 200, worst;
            MPI_Allreduce(&t, &worst, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
            if (worst < best)
                best = worst;
        }
        if (rank == 0)
            printf("  %-10s %d ranks, %d floats (%.0f KB): %7.1f us\n", names[v], size, n,
                   n * 4.0 / 1024, best * 1e6);
    }
    free(buf);
    free(scratch);
    free(off);
    free(req);
    MPI_Finalize();
    return 0;
}
