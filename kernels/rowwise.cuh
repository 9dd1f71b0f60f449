// rowwise.cuh — device helpers shared by softmax.cu and cross_entropy.cu.
//
//   row_exp        exp(x) for x <= 0 (the only arguments softmax needs); on the
//                  host a branch-free polynomial so the row loops vectorize.
//   row_*          per-thread loops over one row (the "row" variants): partial
//                  results in ROW_LANES independent accumulators, which the
//                  host compiler turns into SIMD and which fix the summation
//                  order; sums go chunk by chunk to bound their rounding error.
//   warp_* block_* fixed-tree reductions (shuffles, then shared memory): the
//                  same inputs give bitwise the same result on every run.
//   online_*       the (max, sum of exp) pair of Milakov & Gimelshein 2018.
//
// max2 skips a NaN (x > NaN and NaN > x are both false), but every row loop then
// adds exp(NaN - max) into the row's sum, so a NaN entry still makes every output
// of its row NaN (safe_reciprocal keeps it); a +inf entry gives exp(inf - inf) =
// NaN the same way. That is NumPy's and PyTorch's softmax of such a row.
//
// The running maximum starts at -FLT_MAX, not -inf: then exp(x - max) of a -inf
// entry is exp(-inf) = 0, never exp(-inf - -inf) = NaN, and a row whose entries
// are all -inf ends with max = -FLT_MAX and sum = 0, which callers test for.
#pragma once

#include "sharpmax_compat.cuh"

#define ROW_LANES 8
#define ROW_MAX_FLOOR (-3.402823466e+38f)  // -FLT_MAX

#if defined(__CUDACC__)
#define ROW_UNROLL _Pragma("unroll")
#elif defined(__GNUC__)
#define ROW_UNROLL _Pragma("GCC unroll 32")
#else
#define ROW_UNROLL
#endif

__device__ __forceinline__ float row_neg_inf() { return __int_as_float(static_cast<int>(0xff800000u)); }
__device__ __forceinline__ float max2(float a, float b) { return a > b ? a : b; }

#if defined(__CUDACC__)

__device__ __forceinline__ float row_exp(float x) { return expf(x); }

#else

// exp(x) for x <= 0 without branches, so that loops over a row vectorize:
// x = n·ln2 + r with |r| <= ln2/2, a degree-6 polynomial for exp(r), 2^n built
// in the exponent bits. Measured: at most 1.4 ulp from exp over [-87.3, 0].
// x < -87.3 (below the smallest normal float, -inf included) gives 0 through a
// bit mask; a select there would become a branch under -ftrapping-math and stop
// the vectorizer. NaN stays NaN. No float->int conversion (undefined for NaN):
// adding 1.5·2^23 rounds to an integer and leaves it in the low mantissa bits.
inline float row_exp(float x) {
    float t = x * 1.44269504088896341f + 12582912.0f;
    float n = t - 12582912.0f;
    float r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    std::uint32_t t_bits;
    std::memcpy(&t_bits, &t, 4);
    std::uint32_t scale_bits = (t_bits - 0x4B400000u + 127u) << 23;
    float scale;
    std::memcpy(&scale, &scale_bits, 4);
    float result = p * scale;
    std::uint32_t bits;
    std::memcpy(&bits, &result, 4);
    bits &= 0u - static_cast<std::uint32_t>(!(x < -87.33654f));
    std::memcpy(&result, &bits, 4);
    return result;
}

#endif

#if defined(__CUDACC__)

__device__ __forceinline__ float row_tanh(float x) { return tanhf(x); }

#else

// tanh(x) without branches or a libm call, so that the softcapped row loops vectorize (glibc's tanhf in them
// made the _row kernel 45x slower). |x| < 0.5: the odd Taylor series through x^17 (the first omitted term is
// below 1e-9 relative there); beyond: (1 - e)/(1 + e) with e = row_exp(-2|x|) <= 1/e, where 1 - e does not
// cancel. Both are computed and one is picked with a bit mask, as row_exp does. Measured: at most 2.07 ulp from
// double tanh over all 2.2e9 floats in [-10, 10] (worst at x = -0.546, just past the switch). ±inf gives ±1;
// NaN stays NaN.
inline float row_tanh(float x) {
    float a = std::fabs(x);
    float y = a * a;
    float p = 5.90027441e-04f;  // Taylor coefficients of (tanh(a) - a)/a^3 in a^2, from a^14 down
    p = p * y - 1.45583439e-03f;
    p = p * y + 3.59212804e-03f;
    p = p * y - 8.86323553e-03f;
    p = p * y + 2.18694885e-02f;
    p = p * y - 5.39682540e-02f;
    p = p * y + 1.33333333e-01f;
    p = p * y - 3.33333333e-01f;
    float small = a + a * y * p;
    float e = row_exp(-2.0f * a);
    float large = (1.0f - e) / (1.0f + e);
    std::uint32_t small_bits, large_bits, sign_bits;
    std::memcpy(&small_bits, &small, 4);
    std::memcpy(&large_bits, &large, 4);
    std::memcpy(&sign_bits, &x, 4);
    std::uint32_t use_small = 0u - static_cast<std::uint32_t>(a < 0.5f);
    std::uint32_t bits = ((small_bits & use_small) | (large_bits & ~use_small)) | (sign_bits & 0x80000000u);
    float result;
    std::memcpy(&result, &bits, 4);
    return result;
}

#endif

// ---- one thread, one row ------------------------------------------------------

__device__ __forceinline__ float row_max(const float* x, int C) {
    float acc[ROW_LANES];
    for (int j = 0; j < ROW_LANES; ++j) acc[j] = ROW_MAX_FLOOR;
    int c = 0;
    for (; c + ROW_LANES <= C; c += ROW_LANES)
        for (int j = 0; j < ROW_LANES; ++j) acc[j] = max2(x[c + j], acc[j]);
    for (; c < C; ++c) acc[0] = max2(x[c], acc[0]);
    float m = acc[0];
    for (int j = 1; j < ROW_LANES; ++j) m = max2(acc[j], m);
    return m;
}

// Σ_c term(c) in chunks of ROW_CHUNK elements: ROW_LANES float lanes within a
// chunk (SIMD on the host), chunk totals added in order. The rounding error
// grows like (ROW_CHUNK/ROW_LANES + C/ROW_CHUNK)·2^-24 rather than
// (C/ROW_LANES)·2^-24, which is 1e-4 at C = 262144; the chunking costs ~5 %.
#define ROW_CHUNK (128 * ROW_LANES)

template <typename Term>
__device__ __forceinline__ float row_sum(int C, Term term) {
    float total = 0.0f;
    int c = 0;
    while (c + ROW_LANES <= C) {
        float acc[ROW_LANES] = {};
        int chunk_end = C - c > ROW_CHUNK ? c + ROW_CHUNK : C;
        for (; c + ROW_LANES <= chunk_end; c += ROW_LANES)
            for (int j = 0; j < ROW_LANES; ++j) acc[j] += term(c + j);
        float chunk = 0.0f;
        for (int j = 0; j < ROW_LANES; ++j) chunk += acc[j];
        total += chunk;
    }
    for (; c < C; ++c) total += term(c);
    return total;
}

// Σ exp(x - m); when e is not null it also receives exp(x - m).
__device__ __forceinline__ float row_exp_sum(const float* x, float m, float* e, int C) {
    if (e)
        return row_sum(C, [=](int c) {
            float v = row_exp(x[c] - m);
            e[c] = v;
            return v;
        });
    return row_sum(C, [=](int c) { return row_exp(x[c] - m); });
}

// Σ (x - m): label smoothing needs mean_c(-log p_c) = log Σexp(x - m) - mean_c(x - m).
__device__ __forceinline__ float row_shifted_sum(const float* x, float m, int C) {
    return row_sum(C, [=](int c) { return x[c] - m; });
}

__device__ __forceinline__ void row_scale(float* y, float factor, int C) {
    for (int c = 0; c < C; ++c) y[c] *= factor;
}

__device__ __forceinline__ void row_zero(float* y, int C) {
    for (int c = 0; c < C; ++c) y[c] = 0.0f;
}

// ---- warps and blocks (blockDim.x a multiple of 32) ---------------------------

__device__ __forceinline__ float warp_max(float v) {
    for (int offset = 16; offset > 0; offset >>= 1) v = max2(__shfl_xor_sync(0xffffffffu, v, offset), v);
    return v;
}

__device__ __forceinline__ float warp_sum(float v) {
    for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
    return v;
}

// Every thread of the block gets the result. scratch holds 32 floats; the
// leading barrier lets consecutive reductions reuse it.
__device__ __forceinline__ float block_max(float v, float* scratch) {
    int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
    v = warp_max(v);
    __syncthreads();
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    return warp_max(lane < warps ? scratch[lane] : ROW_MAX_FLOOR);
}

__device__ __forceinline__ float block_sum(float v, float* scratch) {
    int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
    v = warp_sum(v);
    __syncthreads();
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    return warp_sum(lane < warps ? scratch[lane] : 0.0f);
}

// ---- online softmax: (m, d) = (running max, Σ exp(x - m)) ---------------------

struct OnlineMaxSum {
    float m;
    float d;
};

__device__ __forceinline__ void online_add(OnlineMaxSum& s, float x) {
    if (x > s.m) {
        s.d = s.d * row_exp(s.m - x) + 1.0f;
        s.m = x;
    } else {
        s.d += row_exp(x - s.m);
    }
}

__device__ __forceinline__ OnlineMaxSum online_combine(OnlineMaxSum a, OnlineMaxSum b) {
    float m = max2(a.m, b.m);
    return {m, a.d * row_exp(a.m - m) + b.d * row_exp(b.m - m)};
}

__device__ __forceinline__ OnlineMaxSum warp_online(OnlineMaxSum s) {
    for (int offset = 16; offset > 0; offset >>= 1) {
        OnlineMaxSum other{__shfl_xor_sync(0xffffffffu, s.m, offset), __shfl_xor_sync(0xffffffffu, s.d, offset)};
        s = online_combine(s, other);
    }
    return s;
}

// scratch holds 64 floats.
__device__ __forceinline__ OnlineMaxSum block_online(OnlineMaxSum s, float* scratch) {
    int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
    s = warp_online(s);
    __syncthreads();
    if (lane == 0) {
        scratch[warp] = s.m;
        scratch[32 + warp] = s.d;
    }
    __syncthreads();
    OnlineMaxSum t = lane < warps ? OnlineMaxSum{scratch[lane], scratch[32 + lane]} : OnlineMaxSum{ROW_MAX_FLOOR, 0.0f};
    return warp_online(t);
}

// 1/Σ, or 0 for a row whose entries are all -inf (Σ = 0): its softmax is all zeros.
// A NaN Σ (a NaN or +inf entry) stays NaN, so the whole row comes out NaN as in
// NumPy and PyTorch; `sum > 0 ? 1/sum : 0` would zero every finite entry instead.
__device__ __forceinline__ float safe_reciprocal(float sum) { return sum == 0.0f ? 0.0f : 1.0f / sum; }

// ---- rows through a per-element transform (term(c) is the value at column c) --

template <typename Term>
__device__ __forceinline__ float row_max_of(int C, Term term) {
    float acc[ROW_LANES];
    for (int j = 0; j < ROW_LANES; ++j) acc[j] = ROW_MAX_FLOOR;
    int c = 0;
    for (; c + ROW_LANES <= C; c += ROW_LANES)
        for (int j = 0; j < ROW_LANES; ++j) acc[j] = max2(term(c + j), acc[j]);
    for (; c < C; ++c) acc[0] = max2(term(c), acc[0]);
    float m = acc[0];
    for (int j = 1; j < ROW_LANES; ++j) m = max2(acc[j], m);
    return m;
}

// Σ exp(term(c) - m); when e is not null it also receives exp(term(c) - m).
template <typename Term>
__device__ __forceinline__ float row_exp_sum_of(int C, Term term, float m, float* e) {
    if (e)
        return row_sum(C, [=](int c) {
            float v = row_exp(term(c) - m);
            e[c] = v;
            return v;
        });
    return row_sum(C, [=](int c) { return row_exp(term(c) - m); });
}
