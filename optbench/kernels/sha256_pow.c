/* The proof of work's SHA-256 on the CPU (problems/crypto.py): candidates hashed LANES at a time.

   Plain C99 and POSIX threads; compiled and loaded by optbench/kernels/native.py. Each candidate is a
   row of n 0/1 bytes (any nonzero byte is a one, as numpy.packbits reads it), packed most significant
   bit first into bytes 16 .. 16 + n/8 of one padded block whose other words, and the state after the
   four rounds over the 16-byte prefix, come from the table (optbench.kernels.sha256.pow_table). The
   rounds run over LANES independent candidates in arrays, a loop the compiler vectorizes. The value
   is max(k - leading zero bits of the digest's first 64 bits, 0), exactly as hashlib's digest gives.

   table: 16 message words (candidate bytes zero), 8 midstate words, 64 K, 8 H0 (uint32).
   kind: the output, values as 0 int32, 1 float32, 2 float64, or 3 the digest's first 64 bits (uint64,
   for tests against known digests). Returns 0, or -1 if a thread failed to start
   (the caller then hashes on one thread). */

#include <pthread.h>
#include <stdint.h>
#include <string.h>

#define LANES 16
#define ROTR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

typedef struct {
    const uint8_t *bits;
    int64_t rows, nbits, stride;
    const uint32_t *table;
    int k, kind;
    void *out;
} job_t;

static void store(void *out, int kind, int64_t i, int value, uint64_t head) {
    if (kind == 3) ((uint64_t *)out)[i] = head;
    else if (kind == 0) ((int32_t *)out)[i] = value;
    else if (kind == 1) ((float *)out)[i] = (float)value;
    else ((double *)out)[i] = (double)value;
}

/* Eight 0/1 bytes as one byte, the first the most significant bit (numpy.packbits's order). */
static uint32_t pack8(const uint8_t *bytes) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint64_t v;
    memcpy(&v, bytes, 8);
    v |= v >> 4; /* bit 0 of each byte: whether the byte is nonzero */
    v |= v >> 2;
    v |= v >> 1;
    v &= 0x0101010101010101ULL;
    return (uint32_t)((v * 0x8040201008040201ULL) >> 56); /* byte i's bit lands at bit 63 - i */
#else
    uint32_t byte = 0;
    for (int q = 0; q < 8; q++) byte = (byte << 1) | (bytes[q] != 0);
    return byte;
#endif
}

static void hash_lanes(const job_t *job, int64_t first, int count) {
    const uint32_t *table = job->table, *K = table + 24, *H0 = table + 88;
    const int64_t nbytes = job->nbits / 8;
    uint32_t W[64][LANES];
    uint32_t a[LANES], b[LANES], c[LANES], d[LANES], e[LANES], f[LANES], g[LANES], h[LANES];
    for (int t = 0; t < 16; t++)
        for (int l = 0; l < LANES; l++) W[t][l] = table[t];
    for (int l = 0; l < count; l++) {
        const uint8_t *row = job->bits + (first + l) * job->stride;
        for (int64_t j = 0; j < nbytes; j++) {
            uint32_t byte = pack8(row + 8 * j);
            int64_t at = 16 + j; /* the byte's place in the block */
            W[at / 4][l] |= byte << (24 - 8 * (at % 4));
        }
    }
    for (int t = 16; t < 64; t++)
        for (int l = 0; l < LANES; l++) {
            uint32_t x = W[t - 15][l], y = W[t - 2][l];
            uint32_t s0 = ROTR(x, 7) ^ ROTR(x, 18) ^ (x >> 3), s1 = ROTR(y, 17) ^ ROTR(y, 19) ^ (y >> 10);
            W[t][l] = W[t - 16][l] + s0 + W[t - 7][l] + s1;
        }
    for (int l = 0; l < LANES; l++) {
        a[l] = table[16]; b[l] = table[17]; c[l] = table[18]; d[l] = table[19];
        e[l] = table[20]; f[l] = table[21]; g[l] = table[22]; h[l] = table[23];
    }
    for (int t = 4; t < 64; t++) /* rounds 0-3 read only the prefix: the midstate */
        for (int l = 0; l < LANES; l++) {
            uint32_t S1 = ROTR(e[l], 6) ^ ROTR(e[l], 11) ^ ROTR(e[l], 25);
            uint32_t ch = (e[l] & f[l]) ^ (~e[l] & g[l]);
            uint32_t t1 = h[l] + S1 + ch + K[t] + W[t][l];
            uint32_t S0 = ROTR(a[l], 2) ^ ROTR(a[l], 13) ^ ROTR(a[l], 22);
            uint32_t maj = (a[l] & b[l]) ^ (a[l] & c[l]) ^ (b[l] & c[l]);
            h[l] = g[l]; g[l] = f[l]; f[l] = e[l]; e[l] = d[l] + t1;
            d[l] = c[l]; c[l] = b[l]; b[l] = a[l]; a[l] = t1 + S0 + maj;
        }
    for (int l = 0; l < count; l++) {
        uint32_t w0 = a[l] + H0[0], w1 = b[l] + H0[1];
        int zeros = 64;
        for (int bit = 31; bit >= 0; bit--)
            if (w0 >> bit & 1) { zeros = 31 - bit; break; }
        if (zeros == 64)
            for (int bit = 31; bit >= 0; bit--)
                if (w1 >> bit & 1) { zeros = 63 - bit; break; }
        store(job->out, job->kind, first + l, job->k > zeros ? job->k - zeros : 0, (uint64_t)w0 << 32 | w1);
    }
}

static void *run(void *arg) {
    const job_t *job = (const job_t *)arg;
    for (int64_t first = 0; first < job->rows; first += LANES) {
        int64_t left = job->rows - first;
        hash_lanes(job, first, left < LANES ? (int)left : LANES);
    }
    return NULL;
}

int pow_values(const uint8_t *bits, int64_t rows, int64_t nbits, int64_t stride, const uint32_t *table, int k,
               int kind, void *out, int threads) {
    enum { MOST = 64 };
    job_t jobs[MOST];
    pthread_t ids[MOST];
    if (threads < 1) threads = 1;
    if (threads > MOST) threads = MOST;
    int64_t per = (rows + threads - 1) / threads;
    per = (per + LANES - 1) / LANES * LANES;
    int started = 0, status = 0;
    for (int i = 0; i < threads; i++) {
        int64_t lo = i * per, hi = lo + per < rows ? lo + per : rows;
        if (lo >= hi) break;
        int64_t size = kind == 0 || kind == 1 ? 4 : 8;
        jobs[i] = (job_t){bits + lo * stride, hi - lo, nbits, stride, table, k, kind, (char *)out + lo * size};
        if (i == 0) continue; /* the calling thread takes the first share */
        if (pthread_create(&ids[i], NULL, run, &jobs[i]) != 0) { status = -1; break; }
        started = i;
    }
    if (rows > 0) run(&jobs[0]);
    for (int i = 1; i <= started; i++) pthread_join(ids[i], NULL);
    return status;
}
