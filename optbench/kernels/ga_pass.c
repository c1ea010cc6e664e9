/* The GA's making of offspring in one pass over the population (optbench.optimizers.ga).

   Plain C99, no dependencies; compiled and loaded by optbench/kernels/native.py. Every random
   number is drawn by torch beforehand (the same generator calls, in the same order, as the torch
   path); this pass does only the deterministic arithmetic, operation for operation as torch does it:

   - tournament: the lowest of `t` drawn ranks per mate, mapped through the fitness order;
   - elites: the first `e` individuals of the order, copied;
   - blend crossover (reals): alpha = 0.5 + 2^-16 + field * 2^-15 for a crossed pair, 0 otherwise
     (exact in float32 and float64, as torch's addcmul computes it), and torch's vectorized lerp,
     fma(w < 0.5 ? w : w - 1, end - start, w < 0.5 ? start : end);
   - uniform crossover (bits): a coordinate swaps where its drawn byte is below 128 in a crossed pair;
   - mutation sites: the cumulative sum of the drawn geometric gaps, minus one, clamped to n (site n is
     the spare entry after the children, as in the torch path); Gaussian noise added there, scaled by
     the coordinate's step when steps differ, or bits flipped;
   - the box: children clamped as torch's vectorized clamp does (the bound where x is not above it).

   Compiled with -ffp-contract=off: the only fused multiply-adds are the explicit fma() calls
   (-fno-trapping-math lets the selects vectorize; it changes no value).
   Returns 0. */

#include <math.h>
#include <stdint.h>
#include <string.h>

static void mates(const int64_t *order, const int64_t *ranks, int64_t t, int64_t count, int64_t *parent) {
    for (int64_t r = 0; r < count; r++) {
        int64_t best = ranks[r];
        for (int64_t j = 1; j < t; j++) {
            int64_t v = ranks[j * count + r];
            best = v < best ? v : best;
        }
        parent[r] = order[best];
    }
}

/* One pair's children: restrict pointers, so the loops vectorize without run-time overlap checks. */
#define GA_REAL(NAME, T, FMA, FABS)                                                                       \
    static void NAME##_pair(const T *restrict a, const T *restrict b, const int16_t *restrict f, int64_t d,   \
                            int crossed, T *restrict c1, T *restrict c2) {                                \
        if (crossed) {                                                                                    \
            for (int64_t j = 0; j < d; j++) {                                                             \
                T w = (T)(0.5 + 1.0 / 65536.0) + (T)f[j] * (T)(1.0 / 32768.0);                            \
                int small = FABS(w) < (T)0.5;                                                             \
                T coeff = small ? w : w - (T)1;                                                           \
                c1[j] = FMA(coeff, b[j] - a[j], small ? a[j] : b[j]);                                     \
                c2[j] = FMA(coeff, a[j] - b[j], small ? b[j] : a[j]);                                     \
            }                                                                                             \
        } else {                                                                                          \
            for (int64_t j = 0; j < d; j++) { /* alpha = +0: the small branch */                          \
                c1[j] = FMA((T)0, b[j] - a[j], a[j]);                                                     \
                c2[j] = FMA((T)0, a[j] - b[j], b[j]);                                                     \
            }                                                                                             \
        }                                                                                                 \
    }                                                                                                     \
    static void NAME##_clamp(T *restrict c, const T *restrict lo, const T *restrict hi, int64_t d) {      \
        for (int64_t j = 0; j < d; j++) { /* NaN stays NaN */                                             \
            T x = c[j];                                                                                   \
            T y = x > lo[j] ? x : lo[j];                                                                  \
            y = y < hi[j] ? y : hi[j];                                                                    \
            c[j] = x != x ? x : y;                                                                        \
        }                                                                                                 \
    }                                                                                                     \
    int NAME(const T *pop, int64_t d, const int64_t *order, int64_t e, const int64_t *ranks, int64_t t,   \
             int64_t m, const T *u, T rate, const int16_t *fields, const int64_t *gaps, int64_t ngaps,   \
             const T *noise, const T *steps, const T *lo, const T *hi, T *out, int64_t *parent) {         \
        T *children = out + e * d;                                                                        \
        const int64_t n = 2 * m * d;                                                                      \
        mates(order, ranks, t, 2 * m, parent);                                                            \
        for (int64_t i = 0; i < e; i++) memcpy(out + i * d, pop + order[i] * d, (size_t)d * sizeof(T));   \
        for (int64_t i = 0; i < m; i++)                                                                   \
            NAME##_pair(pop + parent[i] * d, pop + parent[m + i] * d, fields + i * d, d, u[i] < rate,     \
                        children + i * d, children + (m + i) * d);                                        \
        int64_t site = -1;                                                                                \
        for (int64_t j = 0; j < ngaps; j++) {                                                             \
            site += gaps[j];                                                                              \
            int64_t at = site < n ? site : n;                                                             \
            children[at] += steps ? noise[j] * steps[at % d] : noise[j];                                  \
        }                                                                                                 \
        if (lo)                                                                                           \
            for (int64_t r = 0; r < 2 * m; r++) NAME##_clamp(children + r * d, lo, hi, d);                \
        return 0;                                                                                         \
    }

GA_REAL(ga_real_f32, float, fmaf, fabsf)
GA_REAL(ga_real_f64, double, fma, fabs)

int ga_bits_u8(const uint8_t *pop, int64_t d, const int64_t *order, int64_t e, const int64_t *ranks, int64_t t,
               int64_t m, const float *u, float rate, const uint8_t *fields, const int64_t *gaps, int64_t ngaps,
               uint8_t *out, int64_t *parent) {
    uint8_t *children = out + e * d;
    const int64_t n = 2 * m * d;
    mates(order, ranks, t, 2 * m, parent);
    for (int64_t i = 0; i < e; i++) memcpy(out + i * d, pop + order[i] * d, (size_t)d);
    for (int64_t i = 0; i < m; i++) {
        const uint8_t *a = pop + parent[i] * d, *b = pop + parent[m + i] * d, *f = fields + i * d;
        uint8_t *c1 = children + i * d, *c2 = children + (m + i) * d;
        if (u[i] < rate) {
            for (int64_t j = 0; j < d; j++) {
                int swap = f[j] < 128;
                c1[j] = swap ? b[j] : a[j];
                c2[j] = swap ? a[j] : b[j];
            }
        } else {
            memcpy(c1, a, (size_t)d);
            memcpy(c2, b, (size_t)d);
        }
    }
    /* out[sites] = 1 - out[sites]: the sites below n are distinct; the spare entry flips once however
       often it was drawn (the gather reads it before the scatter writes it) */
    int64_t site = -1, spare = 0;
    for (int64_t j = 0; j < ngaps; j++) {
        site += gaps[j];
        if (site < n) children[site] = (uint8_t)(1 - children[site]);
        else spare = 1;
    }
    if (spare) children[n] = (uint8_t)(1 - children[n]);
    return 0;
}
