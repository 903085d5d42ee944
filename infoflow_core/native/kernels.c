/* Fused float32 Gaussian kernel sums for infoflow_core (compiled and loaded by
 * infoflow_core/_native.py through ctypes; the torch paths are the reference).
 *
 * For a query x and the centres c_j of one block, stored transposed ((d, stride) rows),
 *     lse = log sum_j exp(a_j),   a_j = scale * |x - c_j|^2,   scale = -1/(2 beta^2) < 0,
 * is computed as  max_j a_j + log sum_j exp(max(a_j - max_j a_j, floor)),  floor = -80
 * (the same clamp as the torch float32 path: a relative change below n e^-80).
 * Distances and exponentials are float32, each block's sum is float32 in 8 lanes, and
 * sums over blocks are float64. Every query is computed on its own, in a fixed order:
 * results do not depend on how a caller splits the work between threads.
 *
 * Written with GCC/Clang vector extensions (8 float32 lanes), so it compiles on any
 * target those compilers support; -march=native picks the machine's instructions.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

typedef float v8f __attribute__((vector_size(32)));
typedef int32_t v8i __attribute__((vector_size(32)));

#define MAX_LEAF 1024 /* centres per block */
#define MAX_DIM 64
#define QB 4 /* queries per register block */
#define BIG 3.0e38f /* squared distance of the padding lanes: exp clamps them to the floor */

static inline v8f load8(const float *p) { v8f v; memcpy(&v, p, sizeof v); return v; }
static inline v8f splat(float a) { return (v8f){a, a, a, a, a, a, a, a}; }
static inline v8f select8(v8i mask, v8f a, v8f b) { return (v8f)(((v8i)a & mask) | ((v8i)b & ~mask)); }
static inline v8f vmin(v8f a, v8f b) { return select8(a < b, a, b); }
static inline v8f vmax(v8f a, v8f b) { return select8(a > b, a, b); }
static inline float hmin(v8f v) {
    float m = v[0];
    for (int l = 1; l < 8; l++) m = v[l] < m ? v[l] : m;
    return m;
}
static inline float hsum(v8f v) {
    return ((v[0] + v[4]) + (v[1] + v[5])) + ((v[2] + v[6]) + (v[3] + v[7]));
}

/* exp(t) for t in [-87, 0] (callers clamp at floor >= -87): Cephes' single-precision
   range reduction and polynomial, relative error about 1e-7. */
static inline v8f exp8(v8f t) {
    v8f fx = t * splat(1.44269504088896341f) + splat(0.5f);
    v8i n = __builtin_convertvector(fx, v8i); /* truncation; make it floor */
    v8f fn = __builtin_convertvector(n, v8f);
    n += (v8i)(fn > fx); /* -1 where truncation rounded up */
    fn = __builtin_convertvector(n, v8f);
    v8f r = t - fn * splat(0.693359375f) - fn * splat(-2.12194440e-4f);
    v8f y = splat(1.9875691500e-4f);
    y = y * r + splat(1.3981999507e-3f);
    y = y * r + splat(8.3334519073e-3f);
    y = y * r + splat(4.1665795894e-2f);
    y = y * r + splat(1.6666665459e-1f);
    y = y * r + splat(5.0000001201e-1f);
    y = y * r * r + r + splat(1.0f);
    v8i e = (n + 127) << 23;
    return y * (v8f)e;
}

/* Squared distances of nq (<= QB) queries xq (nq, d) to the nc centres of a transposed
   block bt (row k at bt + k*stride) into acc[q][0 .. ceil8(nc)), padding lanes set to BIG;
   returns each query's smallest one in mn[q]. */
static inline void sq_dists(const float *xq, int64_t nq, int64_t d, const float *bt, int64_t stride, int64_t nc,
                            float acc[QB][MAX_LEAF], float mn[QB]) {
    v8f vm[QB];
    for (int q = 0; q < QB; q++) vm[q] = splat(INFINITY);
    for (int64_t j = 0; j < nc; j += 8) {
        v8f s[QB] = {splat(0.0f), splat(0.0f), splat(0.0f), splat(0.0f)};
        const int tail = nc - j < 8;
        for (int64_t k = 0; k < d; k++) {
            v8f c;
            if (!tail) c = load8(bt + k * stride + j);
            else {
                c = splat(0.0f);
                for (int64_t l = 0; l < nc - j; l++) c[l] = bt[k * stride + j + l];
            }
            for (int q = 0; q < QB; q++) {
                if (q < nq) { v8f t = splat(xq[q * d + k]) - c; s[q] += t * t; }
            }
        }
        if (tail)
            for (int q = 0; q < QB; q++)
                for (int64_t l = nc - j; l < 8; l++) s[q][l] = BIG;
        for (int q = 0; q < nq; q++) {
            memcpy(&acc[q][j], &s[q], sizeof s[q]);
            vm[q] = vmin(vm[q], s[q]);
        }
    }
    for (int q = 0; q < nq; q++) mn[q] = hmin(vm[q]);
}

/* sum_j exp(max(scale * a_j - mx, floor)) over ceil8(nc) lanes (padding lanes add at
   most 7 e^floor). */
static inline float block_sum(const float *a, int64_t nc, float scale, float mx, float floor_) {
    v8f s = splat(0.0f);
    const v8f vs = splat(scale), vmx = splat(mx), vf = splat(floor_);
    for (int64_t j = 0; j < nc; j += 8) s += exp8(vmax(load8(a + j) * vs - vmx, vf));
    return hsum(s);
}

/* Pieces of the pruned path: piece p holds up to g query indices members[p*g + k]
   (-1: empty slot), scored against block piece_blk[p] of blocks_t (nb, d, stride), whose
   first counts[b] slots are real centres. out[p*g + k] = log sum (float64; -inf for
   empty slots). Returns 0, or 1 when stride > MAX_LEAF or d > MAX_DIM. */
int infoflow_lse_pieces_f32(const float *x, int64_t d, const float *blocks_t, const int64_t *counts,
                            int64_t stride, const int64_t *members, const int64_t *piece_blk,
                            int64_t n_pieces, int64_t g, float scale, float floor_, double *out) {
    if (stride > MAX_LEAF || d > MAX_DIM) return 1;
    static __thread float acc[QB][MAX_LEAF] __attribute__((aligned(64)));
    float xq[QB * MAX_DIM], mn[QB];
    for (int64_t p = 0; p < n_pieces; p++) {
        const int64_t b = piece_blk[p];
        const float *bt = blocks_t + b * d * stride;
        const int64_t nc = counts[b];
        const int64_t *mem = members + p * g;
        for (int64_t k0 = 0; k0 < g; k0 += QB) {
            int64_t nq = 0, slot[QB];
            for (int64_t k = k0; k < g && k < k0 + QB; k++) {
                if (mem[k] < 0) { out[p * g + k] = -INFINITY; continue; }
                memcpy(xq + nq * d, x + mem[k] * d, d * sizeof(float));
                slot[nq++] = k;
            }
            if (nq == 0) continue;
            sq_dists(xq, nq, d, bt, stride, nc, acc, mn);
            for (int64_t q = 0; q < nq; q++) {
                const float mx = scale * mn[q];
                out[p * g + slot[q]] = (double)mx + log((double)block_sum(acc[q], nc, scale, mx, floor_));
            }
        }
    }
    return 0;
}

/* Dense sums: queries x (m, d) against all n centres of centers_t (d, n), in blocks of
   `leaf` centres; out[i] = log sum_j exp(scale |x_i - c_j|^2) (float64). With exclude
   (m,) given (else NULL), centre exclude[i] is left out of query i's sum (-inf when it
   was the only one). */
int infoflow_lse_dense_f32(const float *x, int64_t m, int64_t d, const float *centers_t, int64_t n,
                           int64_t leaf, float scale, float floor_, const int64_t *exclude, double *out) {
    if (leaf > MAX_LEAF || d > MAX_DIM) return 1;
    static __thread float acc[QB][MAX_LEAF] __attribute__((aligned(64)));
    float mn[QB];
    for (int64_t i0 = 0; i0 < m; i0 += QB) {
        const int64_t nq = m - i0 < QB ? m - i0 : QB;
        double run_mx[QB], run_s[QB];
        for (int64_t q = 0; q < nq; q++) { run_mx[q] = -INFINITY; run_s[q] = 0.0; }
        for (int64_t c0 = 0; c0 < n; c0 += leaf) {
            const int64_t nc = n - c0 < leaf ? n - c0 : leaf;
            sq_dists(x + i0 * d, nq, d, centers_t + c0, n, nc, acc, mn);
            for (int64_t q = 0; q < nq; q++) {
                if (exclude != NULL) {
                    const int64_t e = exclude[i0 + q] - c0;
                    if (e >= 0 && e < nc) {
                        acc[q][e] = BIG;
                        mn[q] = BIG;
                        for (int64_t j = 0; j < nc; j++) mn[q] = acc[q][j] < mn[q] ? acc[q][j] : mn[q];
                        if (mn[q] >= BIG) continue; /* the block held only the excluded centre */
                    }
                }
                const float mx = scale * mn[q];
                const double s = block_sum(acc[q], nc, scale, mx, floor_);
                if (mx > run_mx[q]) { run_s[q] = run_s[q] * exp(run_mx[q] - mx) + s; run_mx[q] = mx; }
                else run_s[q] += s * exp((double)mx - run_mx[q]);
            }
        }
        for (int64_t q = 0; q < nq; q++) out[i0 + q] = run_s[q] > 0.0 ? run_mx[q] + log(run_s[q]) : -INFINITY;
    }
    return 0;
}

/* Squared distance from x (d) to the box [lo, hi] (d each). */
static inline float box_dist(const float *x, const float *lo, const float *hi, int64_t d) {
    float s = 0.0f;
    for (int64_t k = 0; k < d; k++) {
        float g = lo[k] - x[k];
        g = g > 0.0f ? g : 0.0f;
        float h = x[k] - hi[k];
        g += h > 0.0f ? h : 0.0f;
        s += g * g;
    }
    return s;
}

/* The pruned path's search (see _kernels_pruned._kept_pairs) for queries x (m, d) in a
   balanced tree of `levels` levels whose node boxes lo, hi (2 nb - 1, d) are in heap order
   (children of node i: 2i + 1, 2i + 2; block b is node nb - 1 + b).
   Pass 1 (blk_out NULL): descend towards the nearer box to a block, take the exact
   smallest squared distance u to its centres, set thr[i] = (float)(u + margin) and
   n_kept[i] = the number of blocks whose box (and every ancestor's, below the root) lies
   within thr[i]. Pass 2 (blk_out given): write those blocks, in increasing order, for
   query i at blk_out[offsets[i] ...]. Returns 0, or 1 when levels > 60 or d > MAX_DIM. */
int infoflow_kept_blocks_f32(const float *x, int64_t m, int64_t d, const float *lo, const float *hi, int64_t levels,
                             const float *blocks_t, const int64_t *counts, int64_t stride, double margin,
                             float *thr, int64_t *n_kept, const int64_t *offsets, int64_t *blk_out) {
    if (levels > 60 || d > MAX_DIM || stride > MAX_LEAF) return 1;
    static __thread float acc[QB][MAX_LEAF] __attribute__((aligned(64)));
    const int64_t nb = (int64_t)1 << levels;
    int64_t stack[64];
    float mn[QB];
    for (int64_t i = 0; i < m; i++) {
        const float *xi = x + i * d;
        if (blk_out == NULL) {
            int64_t node = 0;
            for (int64_t l = 0; l < levels; l++) {
                const int64_t a = 2 * node + 1, b = 2 * node + 2;
                node = box_dist(xi, lo + b * d, hi + b * d, d) < box_dist(xi, lo + a * d, hi + a * d, d) ? b : a;
            }
            const int64_t blk = node - (nb - 1);
            sq_dists(xi, 1, d, blocks_t + blk * d * stride, stride, counts[blk], acc, mn);
            thr[i] = (float)((double)mn[0] + margin);
        }
        const float t = thr[i];
        int64_t count = 0, top = 0;
        int64_t *dst = blk_out == NULL ? NULL : blk_out + offsets[i];
        stack[top++] = 0;
        while (top > 0) {
            const int64_t node = stack[--top];
            if (node > 0 && box_dist(xi, lo + node * d, hi + node * d, d) > t) continue;
            if (node >= nb - 1) {
                if (dst != NULL) dst[count] = node - (nb - 1);
                count++;
            } else {
                stack[top++] = 2 * node + 2; /* right below left: blocks come out in increasing order */
                stack[top++] = 2 * node + 1;
            }
        }
        if (blk_out == NULL) n_kept[i] = count;
    }
    return 0;
}

/* ---- The pruned path's k-d tree (see _kernels_pruned.Partition) ---- */

typedef struct { float key; int32_t pos; } keyed;

/* Rearranges a[0 .. n) so that a[0 .. k) holds keys <= those of a[k .. n) (0 < k < n):
   Hoare partitions around a median-of-three pivot, which splits runs of equal keys evenly. */
static void select_k(keyed *a, int64_t n, int64_t k) {
    int64_t lo = 0, hi = n - 1;
    while (hi > lo) {
        const int64_t mid = lo + (hi - lo) / 2;
        float x = a[lo].key, y = a[mid].key, z = a[hi].key;
        float pivot = x < y ? (y < z ? y : (x < z ? z : x)) : (x < z ? x : (y < z ? z : y));
        int64_t i = lo - 1, j = hi + 1;
        for (;;) {
            do i++; while (a[i].key < pivot);
            do j--; while (a[j].key > pivot);
            if (i >= j) break;
            keyed t = a[i]; a[i] = a[j]; a[j] = t;
        }
        /* a[lo .. j] <= pivot <= a[j+1 .. hi] */
        if (k - 1 <= j) hi = j; else lo = j + 1;
    }
}

/* Splits the segment of `size` points (rows of pts, with their indices idx) at
   ceil(size/2) along its widest coordinate (estimated from a strided subsample of
   <= 64 points), `levels` times recursively. tmp, tmpi, a: scratch of size >= size. */
static void kd_split(float *pts, int64_t *idx, int64_t size, int64_t d, int64_t levels,
                     float *tmp, int64_t *tmpi, keyed *a) {
    if (levels == 0 || size < 2) return;
    const int64_t stride = size / 64 > 1 ? size / 64 : 1;
    int64_t dim = 0;
    float best = -1.0f;
    for (int64_t k = 0; k < d; k++) {
        float mn = INFINITY, mx = -INFINITY;
        for (int64_t i = 0; i < size; i += stride) {
            const float v = pts[i * d + k];
            mn = v < mn ? v : mn;
            mx = v > mx ? v : mx;
        }
        if (mx - mn > best) { best = mx - mn; dim = k; }
    }
    for (int64_t i = 0; i < size; i++) { a[i].key = pts[i * d + dim]; a[i].pos = (int32_t)i; }
    const int64_t half = (size + 1) / 2;
    select_k(a, size, half);
    for (int64_t i = 0; i < size; i++) {
        memcpy(tmp + i * d, pts + (int64_t)a[i].pos * d, d * sizeof(float));
        tmpi[i] = idx[a[i].pos];
    }
    memcpy(pts, tmp, size * d * sizeof(float));
    memcpy(idx, tmpi, size * sizeof(int64_t));
    kd_split(pts, idx, half, d, levels - 1, tmp, tmpi, a);
    kd_split(pts + half * d, idx + half, size - half, d, levels - 1, tmp, tmpi, a);
}

/* In place: splits the segment of `size` points (rows of pts (size, d), with their centre
   indices idx (size,)) `levels` times, as kd_split does (a segment of c points into
   ceil(c/2) and floor(c/2) along its widest coordinate). Callers split the top levels and
   hand the segments below to separate threads: the splits do not depend on that.
   Scratch: tmp (size, d) float32, tmpi (size,) int64, keys (size, 8 bytes).
   Returns 0, or 1 when size >= 2^31. */
int infoflow_kd_split_f32(float *pts, int64_t *idx, int64_t size, int64_t d, int64_t levels,
                          float *tmp, int64_t *tmpi, void *keys) {
    if (size >= ((int64_t)1 << 31)) return 1;
    kd_split(pts, idx, size, d, levels, tmp, tmpi, (keyed *)keys);
    return 0;
}
