/*
 * attrib.h - post-hoc relevance methods on a trained network, beside its eigenvalues.
 *
 * Every method turns the same trained ss_net_t (spectral or dense layers, any
 * activations, batch-norm/dropout after the first layer, always in inference mode) into
 * a GLOBAL relevance per input: the mean over the explained samples of |attribution|.
 * The output explained is the true class's logit for classification and the prediction
 * for regression. Exceptions: `spectral` (the eigenvalues, |ss_net_relevance|, no
 * samples), `permutation` (the drop of accuracy / rise of MAE when a column is permuted:
 * a signed score per column), `fourier` (one value per Fourier coefficient of the input,
 * see below).
 *
 * Work layout (MPI-ready). A method's work is a sequence of UNITS: fixed-size chunks of
 * `chunk` explained samples, or for `permutation` of `chunk` input columns. A unit's
 * result is a vector of n_values doubles (its samples' |attribution| summed in sample
 * order; for permutation its columns' scores, zero elsewhere) plus a few check sums.
 * ss_attrib_compute() computes any unit range [lo, hi) into a part;
 * ss_attrib_combine() adds the units of any set of parts covering [0, n_units) exactly
 * once IN UNIT ORDER. A unit's numbers depend only on the unit (its samples, their
 * random numbers and the network), so splitting [0, n_units) over the ranks of a group
 * in any way gives the same bits as computing it in one process. The network passes go
 * in batches of SS_ATTRIB_BATCH rows whatever the net's max_batch (which differs with
 * the group size in training), so the bits do not depend on it either, as long as
 * max_batch >= SS_ATTRIB_BATCH (ss_train_run's nets have at least 256).
 *
 * Randomness: every draw comes from ss_rng_t keyed by (run seed, method, sample id or
 * column): SmoothGrad/SpectralLens noise and KernelSHAP coalitions by the explained
 * sample's id (its index in the test set), permutations by (column, repeat), the
 * explained subset by the run seed alone (ss_attrib_select_samples).
 *
 * Cost: every method reports wall seconds and the passes through the network it made,
 * counted in samples (a batch of B rows is B passes): forward passes, and backward
 * passes (a gradient is one of each). LRP and DeepLIFT run their own double-precision
 * forward/backward over the effective weights (counted the same way).
 *
 * A context holds the network pointer and uses its workspace: one context per net, no
 * concurrent calls.
 */
#ifndef SPECSWEEP_ATTRIB_H
#define SPECSWEEP_ATTRIB_H

#include <stdint.h>
#include "specsweep/attrib_settings.h"
#include "specsweep/net.h"
#include "specsweep/util.h"

/* Rows per network pass (the gradient rows of a unit, e.g. 16 samples x 50 steps, go
   through the network in batches of this many; fewer if the net's max_batch is smaller). */
#define SS_ATTRIB_BATCH 256

/*
 * Fourier layout. Flat inputs are a 1-D signal (rows = 1, cols = n_inputs); an input
 * with input_shape rows x cols is a 2-D one, element (r, c) at input r * cols + c. The
 * coefficients are those of numpy.fft.rfft / rfft2: entry f = ky * (cols / 2 + 1) + kx
 * with kx = 0 .. cols / 2 (the non-negative frequencies of the last axis) and ky = 0 ..
 * rows - 1 in FFT order (ky > rows / 2 stands for the negative frequency ky - rows). In
 * 2-D the entries (ky, 0) and (rows - ky, 0) (and likewise kx = cols / 2 when cols is
 * even) are conjugate pairs of one real frequency: they carry equal attributions.
 */
int ss_attrib_fourier_size(int rows, int cols);
void ss_attrib_fourier_index(int rows, int cols, int f, int *ky, int *kx);

/* What a run's attribution works on. Pointers are borrowed for the context's life. */
typedef struct {
    int n_inputs;
    int n_train;
    const float *x_train;       /* (n_train, n_inputs): mean, range, bounds, background */
    int n;                      /* explained samples (>= 1) */
    const float *x;             /* (n, n_inputs) */
    const float *y;             /* (n) class indices, or regression targets */
    const uint32_t *id;         /* (n) each sample's id (its test-set index), keys its
                                   random numbers; NULL = 0 .. n - 1 */
    int rows, cols;             /* input_shape (0, 0 = flat); rows * cols = n_inputs */
} ss_attrib_data_t;

typedef struct ss_attrib ss_attrib_t;

/*
 * A context for `net` and `data` with settings `s` (checked) and the run seed. Computes
 * the training statistics (mean, min, max); nothing else until a method asks for it.
 * Returns 0, or -1 with err: SS_EXIT_INPUT for bad settings, a data size that does not
 * match the net, labels that are not classes of the net, an input_shape whose product
 * is not n_inputs. *out is NULL on failure.
 */
int ss_attrib_create(ss_attrib_t **out, ss_net_t *net, const ss_attrib_settings_t *s,
                     const ss_attrib_data_t *data, uint64_t seed, ss_error_t *err);
/* Frees the context and sets *a to NULL; accepts NULL and *a == NULL. */
void ss_attrib_destroy(ss_attrib_t **a);

/* Work units of method m (0 only for an invalid method) and the length of its vector
   (n_inputs, or ss_attrib_fourier_size for fourier). */
int ss_attrib_n_units(const ss_attrib_t *a, ss_attrib_method_t m);
int ss_attrib_n_values(const ss_attrib_t *a, ss_attrib_method_t m);

#define SS_ATTRIB_N_CHECKS 4

/* The partial result of units [lo, hi) of one method. */
typedef struct {
    ss_attrib_method_t method;
    int lo, hi;
    int n_values;
    double *values;             /* (hi - lo, n_values): unit u in row u - lo */
    double *checks;             /* (hi - lo, SS_ATTRIB_N_CHECKS), see ss_attrib_result_t */
    int64_t forward, backward;  /* passes */
    double seconds;             /* wall time of the call */
} ss_attrib_part_t;

/* Compute units [lo, hi) (0 <= lo <= hi <= n_units) of method m into *part (allocated
   here; free with ss_attrib_part_free). -1 with err for bad arguments, and for spectral
   on a dense first layer (check ss_attrib_applies first). */
int ss_attrib_compute(ss_attrib_t *a, ss_attrib_method_t m, int lo, int hi,
                      ss_attrib_part_t *part, ss_error_t *err);
void ss_attrib_part_free(ss_attrib_part_t *part);   /* accepts a zeroed part */

/*
 * A part as one array of doubles, to move it between ranks (e.g. MPI_Gatherv to the
 * leader, which combines): a header (method, lo, hi, n_values, passes, seconds), then
 * values and checks; the integers are exact in a double. unpack allocates as
 * ss_attrib_compute does; -1 with err when buf (n doubles) is not a packed part.
 */
size_t ss_attrib_part_packed_size(const ss_attrib_part_t *part);
void ss_attrib_part_pack(const ss_attrib_part_t *part, double *buf);
int ss_attrib_part_unpack(const double *buf, size_t n, ss_attrib_part_t *part,
                          ss_error_t *err);
/* The doubles of the packed part that starts at buf (of n doubles, e.g. several packed
   parts one after another), or 0 if no whole packed part starts there. */
size_t ss_attrib_part_packed_size_at(const double *buf, size_t n);

/* 1 when method m means something for this network: everything but spectral on a
   dense first layer. */
int ss_attrib_applies(const ss_attrib_t *a, ss_attrib_method_t m);

/*
 * A method's result. relevance: the global relevance per value (NULL when skipped).
 * checks, per method (means and max over the explained samples):
 *   integrated_gradients, fourier, deeplift, kernel_shap: completeness / summation to
 *     delta / efficiency: err = sum of attributions - (f(x) - f(baseline));
 *     check_mean = mean |err|, check_max = max |err|, check_scale = mean |f(x) - f(x0)|
 *   lrp_epsilon: conservation: err = sum of input relevances + absorbed - f(x), where
 *     absorbed is the relevance the biases and epsilon terms take on the way down
 *     (exact up to rounding); absorbed_mean = mean |absorbed|, check_scale = mean |f(x)|
 *   permutation: check_scale = the score on the unpermuted explained samples (accuracy,
 *     or MAE for regression)
 *   other methods: zeros.
 */
typedef struct {
    ss_attrib_method_t method;
    int skipped;                /* 1: the method has no meaning for this network */
    char note[192];             /* why it was skipped */
    int n_values;
    double *relevance;
    int n_samples;              /* explained samples */
    double seconds;
    int64_t forward_passes, backward_passes;
    double check_mean, check_max, check_scale, absorbed_mean;
} ss_attrib_result_t;

/* Combine parts of method m that cover [0, n_units) exactly once (any order in `parts`)
   into *res: unit vectors and checks are added in unit order, then divided by the
   number of samples (not for permutation). -1 with err on a gap, an overlap or a part
   of another method. */
int ss_attrib_combine(const ss_attrib_t *a, ss_attrib_method_t m,
                      const ss_attrib_part_t *parts, int n_parts, ss_attrib_result_t *res,
                      ss_error_t *err);
/* All units in this process (or the skip note): compute + combine. */
int ss_attrib_run(ss_attrib_t *a, ss_attrib_method_t m, ss_attrib_result_t *res,
                  ss_error_t *err);
void ss_attrib_result_free(ss_attrib_result_t *res); /* accepts a zeroed result */

/*
 * Per-sample attributions of explained samples [first, first + count) for a per-sample
 * method (not spectral or permutation): attr (count, n_values) and, when check is not
 * NULL, check (count, 3) = { sum of the attributions, the value it should equal (f(x) -
 * f(baseline), or f(x) for LRP; methods without such a value repeat the sum), absorbed
 * (LRP: biases and epsilon; else 0) }. For
 * saliency, smoothgrad_squared and spectrallens the attributions are the non-negative
 * values the global relevance averages. -1 with err for bad arguments.
 */
int ss_attrib_explain(ss_attrib_t *a, ss_attrib_method_t m, int first, int count,
                      double *attr, double *check, ss_error_t *err);

/*
 * The explained-sample subset: min(samples, n_test) distinct indices of the test set
 * (samples 0 = all), chosen by the run seed, in increasing order, into idx (room for
 * that many). Returns the count.
 */
int ss_attrib_select_samples(int n_test, int samples, uint64_t seed, uint32_t *idx);

/*
 * Top-k frequencies: keep the k entries of the Fourier layout with the largest
 * `relevance` (ties: the lower index), set every other coefficient of each sample of x
 * (n, n_inputs) to zero, transform back and evaluate the network on the result: ADDS to
 * *loss_sum and *correct as ss_net_evaluate does. k outside 1 .. fourier size: -1 + err.
 */
int ss_attrib_fourier_topk(ss_attrib_t *a, const double *relevance, int k, const float *x,
                           const float *y, int n, double *loss_sum, double *correct,
                           ss_error_t *err);

#endif
