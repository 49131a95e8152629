/*
 * vec.h - vectors of 16 floats for the hand-vectorised loops of the network and the
 * products (net.c, net_sparse.c, mm.c). Not installed.
 *
 * GCC's vector extension: one AVX-512 register, two or four narrower ones elsewhere, the
 * same code. The arithmetic operators work lane by lane, with the same rounding as the
 * scalar operations (and multiply-adds fused where the compiler fuses scalar ones).
 */
#ifndef SPECSWEEP_VEC_H
#define SPECSWEEP_VEC_H

#include <stdint.h>
#include <string.h>

typedef float v16 __attribute__((vector_size(64)));
typedef int32_t v16i __attribute__((vector_size(64)));
typedef uint32_t v16u __attribute__((vector_size(64)));

/* Loaded from and stored to any float address. */
static inline v16 v16_load(const float *p)
{
    v16 v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void v16_store(float *p, v16 v) { memcpy(p, &v, sizeof v); }

/*
 * r[0..16) (16 rows of 16 floats) transposed in place: r[i][j] becomes r[j][i]. Four
 * rounds swap the off-diagonal blocks of 8, 4, 2 and 1 rows and columns: in round b, for
 * rows i and i + b (i without b), row i keeps its columns j without b and takes row
 * i + b's columns j - b, and row i + b gets row i's columns j + b; each a two-vector
 * shuffle per row (one instruction with AVX-512).
 */
static inline __attribute__((always_inline)) void v16_transpose(v16 r[16])
{
    /* lanes 0-15: row i, 16-31: row i + b (__builtin_shufflevector: GCC 12 and clang) */
#define V16_LO8 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23
#define V16_HI8 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31
#define V16_LO4 0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27
#define V16_HI4 4, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31
#define V16_LO2 0, 1, 16, 17, 4, 5, 20, 21, 8, 9, 24, 25, 12, 13, 28, 29
#define V16_HI2 2, 3, 18, 19, 6, 7, 22, 23, 10, 11, 26, 27, 14, 15, 30, 31
#define V16_LO1 0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30
#define V16_HI1 1, 17, 3, 19, 5, 21, 7, 23, 9, 25, 11, 27, 13, 29, 15, 31
#define V16_TRANSPOSE_ROUND(b, lo, hi)                          \
    for (int i = 0; i < 16; i++)                                \
        if (!(i & (b))) {                                       \
            v16 x = r[i], y = r[i + (b)];                       \
            r[i] = __builtin_shufflevector(x, y, lo);           \
            r[i + (b)] = __builtin_shufflevector(x, y, hi);     \
        }
    V16_TRANSPOSE_ROUND(8, V16_LO8, V16_HI8)
    V16_TRANSPOSE_ROUND(4, V16_LO4, V16_HI4)
    V16_TRANSPOSE_ROUND(2, V16_LO2, V16_HI2)
    V16_TRANSPOSE_ROUND(1, V16_LO1, V16_HI1)
#undef V16_TRANSPOSE_ROUND
#undef V16_LO8
#undef V16_HI8
#undef V16_LO4
#undef V16_HI4
#undef V16_LO2
#undef V16_HI2
#undef V16_LO1
#undef V16_HI1
}

#endif
