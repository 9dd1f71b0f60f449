// train_step.cu — softmax regression's training step, fused: one pass over a batch of gathered u8 rows
// computes the logits, the cross-entropy loss and gradient, and the weight and bias gradients of each part of
// the batch; a second launch sums the parts in a fixed order and applies SGD. Two launches instead of the
// unfused step's six (forward, count, cross-entropy, dW, db, two updates), and the batch's bytes are read
// from memory once: the logits and the gradient never leave the cache.
//
// Shapes as linear.cu's (W[K×C] row-major, b[C]); X[i,k] = pixels[row(i)·ldx + k]·scale with
// row(i) = index[offset + i] (offset + i when index is null); a row(i) outside [0, rows) reads as NaN, so its
// logits, and all of dW and db, come out NaN (linear.cu's rule). The batch is cut into parts of
// STEP_PART_ROWS rows (the last may be shorter), parts = ⌈N / STEP_PART_ROWS⌉, the same on every device:
//
//   xent_step_u8_*  part p, rows i of p in order:
//     logits[i,c] = (Σ_k byte[i,k]·W[k,c])·scale + b[c]
//     loss[i], grad[i,c]: the fused cross-entropy row of those logits as the CPU device's _row kernel computes
//                         it (xent_row_f64: sums in double, the confident-correct split), with ignore_index,
//                         smoothing ε and a mean's 1/count of valid rows (counted over all N labels); grad_scale
//                         as there. A bad label is reported in *status and the row counts as ignored.
//     part_dw[p·K·C + c·K + k] = Σ_{i in p} grad[i,c]·byte[i,k]   (dW of the part in Wᵀ's layout, raw bytes: the
//                                                                  kernels' k-contiguous sums are stored as they are)
//     part_db[p·C + c]         = Σ_{i in p} grad[i,c]
//   sgd_step_update_f32  each thread a contiguous run of W's rows k, all C classes of each (then a run of b's):
//     dW[k,c] = (Σ_p part_dw[p][c][k])·scale, db[c] = Σ_p part_db[p][c], p = 0, 1, … from +0
//     W -= lr·(dW + weight_decay·W), b -= lr·(db + 0·b): sgd.cu's expression, so with the same dW and db the bits
//     of Sgd.Step; dW and db are written too.
//     *correct += #{ i : argmax_c logits[i,c] == labels[i] } (argmax.cuh, as accuracy_forward_f32 counts), when
//     correct is not null: an integer sum, the same in any order.
// grad may be null (not written); logits and loss are always written (the loss reduction reads them). Every sum
// has a fixed order given by the parts (no float atomics, not the worker count), so the
// results are bitwise the same run to run.
//
// Variants of xent_step_u8:
//   _simd   the CPU device's (host only, SHARPMAX_NO_SYNC): grid = min(parts, workers), block 1; each block
//           transposes W once into a local block (C ≤ STEP_MAX_C, K ≤ STEP_MAX_K) and takes parts
//           p = blockIdx.x, + gridDim.x, …; a part's bytes are widened to floats once, into a per-thread tile.
//           The logits are dot products along k (8-float lanes, one accumulator per row and class, lanes summed
//           in a fixed tree), in register blocks of 4 rows × 5 classes; the dW pass runs along k with one
//           accumulator per class and 8 k over the part's rows, 16 k at a time, so no partial sum leaves the
//           registers. Each sum's order is one row's (one k's) alone: the blocking changes no bit. The block asks
//           for all its parts' gathered rows at once (prefetches into L2) before it transposes W. With C = 10 or
//           16 the cross-entropy's sums (max, exps, double sum) run for eight rows side by side
//           (xent_row_sums_f64_lanes, the one-row order on each lane), every row of the part that way, so that a
//           row's results do not depend on its place in the batch.
//   _block  for GPUs (SHARPMAX_SYNC): a block of STEP_THREADS threads per part (grid = parts): a thread per
//           logit (k in order), a thread per row for the cross-entropy, a thread per k for dW. C ≤ STEP_MAX_C.
// Launch: xent_step_u8_simd grid min(parts, workers), block 1; _block grid parts, block STEP_THREADS;
// sgd_step_update_f32 1-D, any grid (ContiguousRuns).
#include "sharpmax_compat.cuh"
#include "argmax.cuh"
#include "xent_terms.cuh"
#if !defined(__CUDACC__) && defined(__GNUC__) && !defined(__clang__)
// The host-only kernel's vector helpers are force-inlined into each clone: no call passes a vector, so the
// note that the baseline clone would pass one differently does not apply.
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

#if defined(__CUDACC__)
#pragma nv_diag_suppress 177
#endif

#define STEP_MAX_C 16
#define STEP_MAX_K 1024
#define STEP_PART_ROWS 64
#define STEP_THREADS 256

namespace {

__device__ __forceinline__ float step_nan() { return __int_as_float(0x7fc00000); }

// Start of batch row i's bytes, or null when its source row is out of range.
__device__ __forceinline__ const unsigned char* step_row(const unsigned char* pixels, int ldx, int rows,
                                                         const int* index, int offset, int i) {
    int source = index ? index[offset + i] : offset + i;
    return (source >= 0 && source < rows) ? pixels + static_cast<long long>(source) * ldx : nullptr;
}

__device__ __forceinline__ bool step_label_valid(int y, int C, int ignore_index) {
    return y != ignore_index && y >= 0 && y < C;
}

// Row i's cross-entropy from its sums (xent_row_sums_f64) and logits xr into loss[i] and gr (C floats), as the _row
// kernel computes it; grad[i] gets a copy when asked. A row of NaN pixels (bad) makes gr NaN after the copy: its
// bytes are unknown, so its share of dW and db is too (the unfused chain's NaN·g).
__device__ __forceinline__ void step_row_xent_from(const XentRowSums& sums, const float* xr, float* gr, int i, int C,
                                                   int label, bool used, float smoothing, float grad_scale,
                                                   const int* valid_count, float* loss, float* grad, bool bad) {
    xent_row_f64_from<false>(sums, xr, gr, i, C, label, used, smoothing, loss, nullptr, grad_scale, valid_count,
                             XentTerms{0.0f, 0.0f, nullptr, nullptr, nullptr});
    if (grad)
        for (int c = 0; c < C; ++c) grad[static_cast<long long>(i) * C + c] = gr[c];
    if (bad)
        for (int c = 0; c < C; ++c) gr[c] = step_nan();
}

__device__ __forceinline__ void step_row_xent(const float* xr, float* gr, int i, int C, const int* labels,
                                              int ignore_index, float smoothing, float grad_scale,
                                              const int* valid_count, float* loss, float* grad,
                                              unsigned long long* status, bool bad) {
    const int label = labels[i];
    const bool used = label_in_use(label, C, ignore_index, i, status, true);
    step_row_xent_from(xent_row_sums_f64<false>(xr, gr, C, label, used, 0.0f), xr, gr, i, C, label, used, smoothing,
                       grad_scale, valid_count, loss, grad, bad);
}

}  // namespace

#define STEP_PARAMS                                                                                          \
    const unsigned char *pixels, int ldx, int rows, const int *index, int offset, float scale, const float *W, \
        const float *b, const int *labels, int N, int K, int C, int ignore_index, float smoothing,           \
        float grad_scale, int mean, float *logits, float *loss, float *grad, float *part_dw, float *part_db,  \
        unsigned long long *status, int *correct
#define STEP_ARGS                                                                                             \
    pixels, ldx, rows, index, offset, scale, W, b, labels, N, K, C, ignore_index, smoothing, grad_scale, mean, \
        logits, loss, grad, part_dw, part_db, status, correct

// ---- GPU: a block per part ----------------------------------------------------

extern "C" __global__ void SHARPMAX_MAX_THREADS(STEP_THREADS) xent_step_u8_block(STEP_PARAMS) {
    SHARPMAX_SHARED_2D(float, g, STEP_PART_ROWS, STEP_MAX_C);
    SHARPMAX_SHARED(int, counts, STEP_THREADS);
    const int t = static_cast<int>(threadIdx.x);
    const int p = static_cast<int>(blockIdx.x);
    const int i0 = p * STEP_PART_ROWS;
    const int n = min(STEP_PART_ROWS, N - i0);
    // The count of valid rows over the whole batch, a fixed tree.
    int valid = 0;
    for (int r = t; r < N; r += blockDim.x) valid += step_label_valid(labels[r], C, ignore_index);
    counts[t] = valid;
    for (int stride = blockDim.x / 2; stride > 0; stride /= 2) {
        __syncthreads();
        if (t < stride) counts[t] += counts[t + stride];
    }
    __syncthreads();
    // Logits: a thread per output, k in order.
    for (int o = t; o < n * C; o += blockDim.x) {
        const int r = o / C, c = o % C;
        const unsigned char* xr = step_row(pixels, ldx, rows, index, offset, i0 + r);
        float sum = 0.0f;
        if (xr)
            for (int k = 0; k < K; ++k) sum += static_cast<float>(xr[k]) * W[static_cast<long long>(k) * C + c];
        logits[static_cast<long long>(i0 + r) * C + c] = xr ? fmaf(sum, scale, b ? b[c] : 0.0f) : step_nan();
    }
    __syncthreads();
    // The cross-entropy: a thread per row.
    if (t < n) {
        const int i = i0 + t;
        const bool bad = !step_row(pixels, ldx, rows, index, offset, i);
        step_row_xent(logits + static_cast<long long>(i) * C, g[t], i, C, labels, ignore_index, smoothing, grad_scale,
                      mean ? &counts[0] : nullptr, loss, grad, status, bad);
        if (correct && row_argmax(logits + static_cast<long long>(i) * C, C) == labels[i]) atomicAdd(correct, 1);
    }
    __syncthreads();
    // dW and db of the part: a thread per k, rows in order (a bad row's g is NaN, its bytes any readable ones);
    // stored as Wᵀ, so the threads of a warp write consecutive k.
    float* dw = part_dw + static_cast<long long>(p) * C * K;
    for (int k = t; k < K; k += blockDim.x) {
        for (int c = 0; c < C; ++c) {
            float sum = 0.0f;
            for (int r = 0; r < n; ++r) {
                const unsigned char* xr = step_row(pixels, ldx, rows, index, offset, i0 + r);
                sum += g[r][c] * static_cast<float>(xr ? xr[k] : 0);
            }
            dw[static_cast<long long>(c) * K + k] = sum;
        }
    }
    if (t < C) {
        float sum = 0.0f;
        for (int r = 0; r < n; ++r) sum += g[r][t];
        part_db[static_cast<long long>(p) * C + t] = sum;
    }
}

// ---- the update: sum the parts, SGD ---------------------------------------------

#if !defined(__CUDACC__)
#if defined(__x86_64__) && defined(__ELF__) && defined(__GNUC__) && !defined(__clang__)
// The x86-64 levels as the row kernels have them, with no FMA contraction, so that every clone rounds as the
// baseline one does (and as sgd.cu's update).
#define STEP_UPDATE_CLONES \
    __attribute__((noinline, target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default"), optimize("fp-contract=off")))
#else
#define STEP_UPDATE_CLONES
#endif

// The host's update of W's rows [first, last): a tile of 16 rows k is summed part by part, class by class, from
// the parts' Wᵀ columns (each element's sum still p = 0, 1, … from +0), turned into W's layout in a local tile,
// and then W and dW are walked in order, as vectors (class by class they would be strided, ten passes over both).
namespace {
STEP_UPDATE_CLONES void step_update_rows(const float* __restrict__ part_dw, int parts, int K, int C, int first,
                                         int last, float scale, float lr, float weight_decay, float* __restrict__ W,
                                         float* __restrict__ dW) {
    constexpr int kTile = 16;
    const long long count = static_cast<long long>(K) * C;
    for (int k0 = first; k0 < last; k0 += kTile) {
        const int len = min(kTile, last - k0);
        alignas(64) float sums[STEP_MAX_C][kTile];
        for (int c = 0; c < C; ++c) {
            const float* column = part_dw + static_cast<long long>(c) * K + k0;
            float acc[kTile] = {};
            if (len == kTile)  // a whole tile: one vector add per part
                for (int p = 0; p < parts; ++p)
                    for (int j = 0; j < kTile; ++j) acc[j] += column[p * count + j];
            else
                for (int p = 0; p < parts; ++p)
                    for (int j = 0; j < len; ++j) acc[j] += column[p * count + j];
            for (int j = 0; j < kTile; ++j) sums[c][j] = acc[j];
        }
        alignas(64) float tile[kTile * STEP_MAX_C];
        for (int j = 0, e = 0; j < len; ++j)
            for (int c = 0; c < C; ++c, ++e) tile[e] = sums[c][j];
        float* w = W + static_cast<long long>(k0) * C;
        float* dw = dW + static_cast<long long>(k0) * C;
        for (int e = 0; e < len * C; ++e) {
            const float g = tile[e] * scale;
            dw[e] = g;
            w[e] -= lr * (g + weight_decay * w[e]);
        }
    }
}
}  // namespace
#endif

extern "C" __global__ void SHARPMAX_MAX_THREADS(1024)
    sgd_step_update_f32(const float* __restrict__ part_dw, const float* __restrict__ part_db, int parts, int K, int C,
                        float scale, float lr, float weight_decay, float* __restrict__ W, float* __restrict__ b,
                        float* __restrict__ dW, float* __restrict__ db) {
    const long long threads = static_cast<long long>(gridDim.x) * blockDim.x;
    const long long t = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
    const long long count = static_cast<long long>(K) * C;  // floats per part, in Wᵀ's layout
    // Each thread a contiguous run of W's rows k (so W and dW are written in order, and no two threads write one
    // cache line but at a run's edge), class by class: the parts hold Wᵀ, so a class's run of k is contiguous in
    // every part.
    const int run = static_cast<int>((K + threads - 1) / threads);
    const int first = static_cast<int>(min(static_cast<long long>(K), t * run));
    const int last = static_cast<int>(min(static_cast<long long>(K), (t + 1) * run));
#if !defined(__CUDACC__)
    if (C <= STEP_MAX_C)
        step_update_rows(part_dw, parts, K, C, first, last, scale, lr, weight_decay, W, dW);
    else
#endif
    {
        // Class by class, each thread's run of k (on a GPU a row k or a few; on the host only past STEP_MAX_C).
#if defined(__CUDACC__)
        constexpr int kChunk = 1;
#else
        constexpr int kChunk = 256;
#endif
        for (int c = 0; c < C; ++c)
            for (int k0 = first; k0 < last; k0 += kChunk) {
                const int len = min(kChunk, last - k0);
                const float* column = part_dw + static_cast<long long>(c) * K + k0;
                float sums[kChunk];
                for (int j = 0; j < len; ++j) sums[j] = 0.0f;
                for (int p = 0; p < parts; ++p)
                    for (int j = 0; j < len; ++j) sums[j] += column[p * count + j];
                for (int j = 0; j < len; ++j) {
                    const long long e = static_cast<long long>(k0 + j) * C + c;
                    const float g = sums[j] * scale;
                    dW[e] = g;
                    W[e] -= lr * (g + weight_decay * W[e]);
                }
            }
    }
    const long long brun = (C + threads - 1) / threads;
    for (long long c = t * brun, end = min(static_cast<long long>(C), (t + 1) * brun); c < end; ++c) {
        float sum = 0.0f;
        for (int p = 0; p < parts; ++p) sum += part_db[static_cast<long long>(p) * C + c];
        db[c] = sum;
        b[c] -= lr * (sum + 0.0f * b[c]);  // sgd.cu with weight_decay 0: the bits of Sgd.Step(b, db, lr)
    }
}

// ---- host only: the CPU device's kernel ---------------------------------------
#if !defined(__CUDACC__)

// Compiled for three x86-64 levels, the loader picking the best (as linear.cu's _simd kernels).
#if defined(__x86_64__) && defined(__ELF__) && (defined(__GNUC__) || defined(__clang__))
#define STEP_SIMD_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define STEP_SIMD_CLONES
#endif

namespace {

constexpr int STEP_LANES = 8;
// Rows of the local Wᵀ and of the widened part are a cache line longer than STEP_MAX_K floats: at 4 KiB apart,
// the rows the products walk down together (ten of Wᵀ, sixty-four of the part) would all fall in one set of the
// L1 cache and evict each other.
constexpr int STEP_ROW_FLOATS = STEP_MAX_K + 16;
constexpr int STEP_PREFETCH_ROWS = 4;  // rows ahead: a row's widening is far shorter than a miss

// Asks for part p's rows (their bytes) in L2; the part's widening then finds them there.
__device__ __forceinline__ void step_prefetch_rows(const unsigned char* pixels, int ldx, int rows, const int* index,
                                                   int offset, int N, int K, int p) {
#if defined(__GNUC__) || defined(__clang__)
    for (int i = p * STEP_PART_ROWS, end = min(N, i + STEP_PART_ROWS); i < end; ++i)
        if (const unsigned char* row = step_row(pixels, ldx, rows, index, offset, i))
            for (int k = 0; k < K; k += 64) __builtin_prefetch(row + k, 0, 2);
#else
    (void)pixels, (void)ldx, (void)rows, (void)index, (void)offset, (void)N, (void)K, (void)p;
#endif
}

// Eight float lanes: one ymm register on GCC/Clang hosts, a plain array elsewhere.
#if defined(__GNUC__) || defined(__clang__)
typedef float StepV __attribute__((vector_size(STEP_LANES * sizeof(float))));
__device__ __forceinline__ StepV step_zero() { return StepV{}; }
__device__ __forceinline__ StepV step_load(const float* p) {
    StepV v;
    __builtin_memcpy(&v, p, sizeof v);
    return v;
}
__device__ __forceinline__ StepV step_fma(StepV acc, StepV a, StepV x) { return acc + a * x; }
__device__ __forceinline__ StepV step_fma(StepV acc, float a, StepV x) { return acc + a * x; }
__device__ __forceinline__ void step_store(float* p, StepV v) { __builtin_memcpy(p, &v, sizeof v); }
__device__ __forceinline__ float step_lane(const StepV& v, int l) { return v[l]; }
#else
struct StepV {
    float v[STEP_LANES];
};
__device__ __forceinline__ StepV step_zero() { return StepV{}; }
__device__ __forceinline__ StepV step_load(const float* p) {
    StepV r;
    for (int l = 0; l < STEP_LANES; ++l) r.v[l] = p[l];
    return r;
}
__device__ __forceinline__ StepV step_fma(StepV acc, StepV a, StepV x) {
    for (int l = 0; l < STEP_LANES; ++l) acc.v[l] += a.v[l] * x.v[l];
    return acc;
}
__device__ __forceinline__ StepV step_fma(StepV acc, float a, StepV x) {
    for (int l = 0; l < STEP_LANES; ++l) acc.v[l] += a * x.v[l];
    return acc;
}
__device__ __forceinline__ void step_store(float* p, StepV v) {
    for (int l = 0; l < STEP_LANES; ++l) p[l] = v.v[l];
}
__device__ __forceinline__ float step_lane(const StepV& v, int l) { return v.v[l]; }
#endif

// The lanes' sum in a fixed tree: (0+4 + 2+6) + (1+5 + 3+7).
__device__ __forceinline__ float step_hsum(const StepV& v) {
    float a0 = step_lane(v, 0) + step_lane(v, 4), a1 = step_lane(v, 1) + step_lane(v, 5);
    float a2 = step_lane(v, 2) + step_lane(v, 6), a3 = step_lane(v, 3) + step_lane(v, 7);
    return (a0 + a2) + (a1 + a3);
}

// The logits' register block: rows × classes accumulators of 8 lanes, with the rows' and Wᵀ's loads (rows + classes
// per 8 k) well under the FMAs (rows · classes), in the 32 vector registers of AVX-512 hosts.
template <int CT>
struct StepBlock;
template <>
struct StepBlock<10> {
    static constexpr int rows = 4, classes = 5;
};
template <>
struct StepBlock<16> {
    static constexpr int rows = 2, classes = 8;
};

// One part of the batch; wt holds Wᵀ (CT rows of K floats, zeros past C), xf room for the part's rows as floats.
// The bytes are widened once (exactly: 0…255) for both products. The logits take a block of rows and classes at a
// time and dW sixteen k per pass over the rows, so each load feeds several FMAs; every sum keeps the order of one
// row (of one k) alone, so the blocking changes no bit.
template <int CT>
__device__ __forceinline__ void step_part_simd(STEP_PARAMS, int p, const float (*wt)[STEP_ROW_FLOATS],
                                               float (*xf)[STEP_ROW_FLOATS], const int* count) {
    const int i0 = p * STEP_PART_ROWS;
    const int n = min(STEP_PART_ROWS, N - i0);
    (void)W;  // read through wt
    const int K8 = K - K % STEP_LANES;
    bool bad[STEP_PART_ROWS];
#if defined(__GNUC__) || defined(__clang__)
    for (int r = 0; r < min(n, STEP_PREFETCH_ROWS); ++r)
        if (const unsigned char* row = step_row(pixels, ldx, rows, index, offset, i0 + r))
            for (int k = 0; k < K; k += 64) __builtin_prefetch(row + k);
#endif
    for (int r = 0; r < n; ++r) {
        const unsigned char* row = step_row(pixels, ldx, rows, index, offset, i0 + r);
        bad[r] = !row;
        const unsigned char* x = row ? row : pixels;  // any readable bytes: the row's g is NaN
#if defined(__GNUC__) || defined(__clang__)
        // The gathered rows are random rows of the set, mostly not in cache: fetch a later one's now.
        if (r + STEP_PREFETCH_ROWS < n)
            if (const unsigned char* next = step_row(pixels, ldx, rows, index, offset, i0 + r + STEP_PREFETCH_ROWS))
                for (int k = 0; k < K; k += 64) __builtin_prefetch(next + k);
#endif
        for (int k = 0; k < K; ++k) xf[r][k] = static_cast<float>(x[k]);
    }
    alignas(64) float g[STEP_PART_ROWS][CT];
    // Logits and the cross-entropy, StepBlock<CT>::rows rows at a time, their classes in groups of
    // StepBlock<CT>::classes: each load of the rows or of Wᵀ feeds several FMAs.
    constexpr int RB = StepBlock<CT>::rows, CB = StepBlock<CT>::classes;
    static_assert(STEP_PART_ROWS % RB == 0, "a part's row blocks stay inside its sums");
    alignas(64) float sums[CT][STEP_PART_ROWS];  // by class, so that eight rows' logits of a class are one vector
    for (int c0 = 0; c0 < CT; c0 += CB)
        for (int r0 = 0; r0 < n; r0 += RB) {
            int xs[RB];
            for (int q = 0; q < RB; ++q) xs[q] = min(r0 + q, n - 1);  // past the part: its last row again, unused
            StepV acc[RB][CB];
            for (int q = 0; q < RB; ++q)
                for (int j = 0; j < CB; ++j) acc[q][j] = step_zero();
            for (int k = 0; k < K8; k += STEP_LANES) {
                StepV v[RB];
                for (int q = 0; q < RB; ++q) v[q] = step_load(xf[xs[q]] + k);
                for (int j = 0; j < CB; ++j) {
                    const StepV w = step_load(wt[c0 + j] + k);
                    for (int q = 0; q < RB; ++q) acc[q][j] = step_fma(acc[q][j], v[q], w);
                }
            }
            for (int q = 0; q < RB; ++q)
                for (int j = 0; j < CB; ++j) sums[c0 + j][r0 + q] = step_hsum(acc[q][j]);  // the lanes in a fixed tree
        }
    if (K8 < K)  // the k tail, in order
        for (int c = 0; c < C; ++c)
            for (int r = 0; r < n; ++r) {
                float sum = sums[c][r];
                for (int k = K8; k < K; ++k) sum += xf[r][k] * wt[c][k];
                sums[c][r] = sum;
            }
    // Each row's logits, then its cross-entropy; where C is CT, ROW_LANES rows at a time (xent_row_sums_f64_lanes:
    // one row's operations on each lane).
    int right = 0;  // rows whose argmax is their label
    auto logit = [&](int r, int c) { return bad[r] ? step_nan() : fmaf(sums[c][r], scale, b ? b[c] : 0.0f); };
    int rq = 0;
#if defined(__GNUC__) || defined(__clang__)
    // Every row of the part through the same sums (a short last group padded with copies of the part's last row,
    // unused), so that a row's results do not depend on where it falls in the batch.
    if (C == CT) {
        for (int r = n; r < (n + ROW_LANES - 1) / ROW_LANES * ROW_LANES; ++r) {
            bad[r] = bad[n - 1];
            for (int c = 0; c < CT; ++c) sums[c][r] = sums[c][n - 1];
        }
        for (; rq < n; rq += ROW_LANES) {
            const int rows_here = min(ROW_LANES, n - rq);
            row_lanes_f32 x[CT];
            for (int c = 0; c < CT; ++c) {
                float column[ROW_LANES];
                for (int l = 0; l < ROW_LANES; ++l) column[l] = logit(rq + l, c);
                std::memcpy(&x[c], column, sizeof column);
                for (int q = 0; q < rows_here; ++q) logits[static_cast<long long>(i0 + rq + q) * C + c] = column[q];
            }
            int label[ROW_LANES];
            bool used[ROW_LANES];
            for (int q = 0; q < ROW_LANES; ++q) {
                const bool real = q < rows_here;
                label[q] = real ? labels[i0 + rq + q] : ignore_index;
                used[q] = real && label_in_use(label[q], C, ignore_index, i0 + rq + q, status, true);
            }
            XentRowSums sums8[ROW_LANES];
            xent_row_sums_f64_lanes<CT, CT>(x, label, used, g + rq, sums8);
            for (int q = 0; q < rows_here; ++q) {
                const float* lr_ = logits + static_cast<long long>(i0 + rq + q) * C;
                step_row_xent_from(sums8[q], lr_, g[rq + q], i0 + rq + q, CT, label[q], used[q], smoothing,
                                   grad_scale, mean ? count : nullptr, loss, grad, bad[rq + q]);
                right += row_argmax(lr_, CT) == label[q];
            }
        }
    }
#endif
    for (; rq < n; ++rq) {  // C < CT, or a host compiler without GCC vectors
        const int i = i0 + rq;
        float* lr_ = logits + static_cast<long long>(i) * C;
        for (int c = 0; c < C; ++c) lr_[c] = logit(rq, c);
        step_row_xent(lr_, g[rq], i, C, labels, ignore_index, smoothing, grad_scale, mean ? count : nullptr, loss,
                      grad, status, bad[rq]);
        for (int c = C; c < CT; ++c) g[rq][c] = 0.0f;
        right += row_argmax(lr_, C) == labels[i];
    }
    if (correct && right > 0) atomicAdd(correct, right);  // an integer sum: any order gives the same count

    // dW of the part along k: CT accumulators per 8 k over the part's rows in order, each stored once, as it is
    // (the part holds Wᵀ: a class's k are contiguous).
    float* dw = part_dw + static_cast<long long>(p) * K * C;
    int k = 0;
    for (; k + 2 * STEP_LANES <= K8; k += 2 * STEP_LANES) {
        StepV a0[CT], a1[CT];
        for (int c = 0; c < CT; ++c) a0[c] = a1[c] = step_zero();
        for (int r = 0; r < n; ++r) {
            const StepV v0 = step_load(xf[r] + k), v1 = step_load(xf[r] + k + STEP_LANES);
            for (int c = 0; c < CT; ++c) {
                a0[c] = step_fma(a0[c], g[r][c], v0);
                a1[c] = step_fma(a1[c], g[r][c], v1);
            }
        }
        for (int c = 0; c < C; ++c) {
            step_store(dw + static_cast<long long>(c) * K + k, a0[c]);
            step_store(dw + static_cast<long long>(c) * K + k + STEP_LANES, a1[c]);
        }
    }
    for (; k < K8; k += STEP_LANES) {
        StepV acc[CT];
        for (int c = 0; c < CT; ++c) acc[c] = step_zero();
        for (int r = 0; r < n; ++r) {
            const StepV v = step_load(xf[r] + k);
            for (int c = 0; c < CT; ++c) acc[c] = step_fma(acc[c], g[r][c], v);
        }
        for (int c = 0; c < C; ++c) step_store(dw + static_cast<long long>(c) * K + k, acc[c]);
    }
    for (; k < K; ++k)
        for (int c = 0; c < C; ++c) {
            float sum = 0.0f;
            for (int r = 0; r < n; ++r) sum += g[r][c] * xf[r][k];
            dw[static_cast<long long>(c) * K + k] = sum;
        }
    for (int c = 0; c < C; ++c) {
        float sum = 0.0f;
        for (int r = 0; r < n; ++r) sum += g[r][c];
        part_db[static_cast<long long>(p) * C + c] = sum;
    }
}

// The part's rows as floats, per worker thread (256 KiB: too much for a stack frame; a worker runs one block at a
// time, so one buffer per thread serves every block it runs).
alignas(64) SHARPMAX_TLS float step_rows_f32[STEP_PART_ROWS][STEP_ROW_FLOATS];

// CT classes per accumulator set (10 or 16; classes past C use a zero block of Wᵀ and are not stored).
template <int CT>
__device__ __forceinline__ void step_simd(STEP_PARAMS) {
    const int parts = (N + STEP_PART_ROWS - 1) / STEP_PART_ROWS;
    const int first = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
    const int stride = static_cast<int>(gridDim.x * blockDim.x);
    if (first >= parts) return;
    // The gathered rows are random rows of the set, mostly not in cache: ask for all of this block's at once, while
    // it forms Wᵀ, so that their misses overlap (a part's widening alone would wait on each row in turn).
    for (int p = first; p < parts; p += stride)
        step_prefetch_rows(pixels, ldx, rows, index, offset, N, K, p);
    int count = 0;
    for (int r = 0; r < N; ++r) count += step_label_valid(labels[r], C, ignore_index);
    alignas(64) float wt[CT][STEP_ROW_FLOATS];
    for (int c = C; c < CT; ++c)
        for (int k = 0; k < K; ++k) wt[c][k] = 0.0f;
    for (int k = 0; k < K; ++k)
        for (int c = 0; c < C; ++c) wt[c][k] = W[static_cast<long long>(k) * C + c];
    for (int p = first; p < parts; p += stride) step_part_simd<CT>(STEP_ARGS, p, wt, step_rows_f32, &count);
}

}  // namespace

extern "C" __global__ STEP_SIMD_CLONES void xent_step_u8_simd(STEP_PARAMS) {
    if (C <= 10)
        step_simd<10>(STEP_ARGS);
    else
        step_simd<16>(STEP_ARGS);
}

#endif  // !defined(__CUDACC__)

SHARPMAX_EXPORT(xent_step_u8_block, SHARPMAX_SYNC)
SHARPMAX_EXPORT(sgd_step_update_f32, SHARPMAX_NO_SYNC)
SHARPMAX_EXPORT_HOST_ONLY(xent_step_u8_simd, SHARPMAX_NO_SYNC)
SHARPMAX_STATIC_SHARED(xent_step_u8_block, sizeof(float) * STEP_PART_ROWS * STEP_MAX_C + sizeof(int) * STEP_THREADS)
SHARPMAX_LAUNCH_BOUNDS(xent_step_u8_block, STEP_THREADS)
