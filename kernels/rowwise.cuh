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
//   sum2_* RowSum2 compensated float sums (hi + lo, TwoSum) and their fixed trees,
//                  for the cross-entropy GPU variants; row_exp_sub_poly: the host's
//                  exp polynomial on a GPU as well.
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

// The CPU device's row kernels (softmax_forward_f32_row, xent_fused_forward_backward_f32_row) are compiled for
// three x86-64 levels on x86-64 ELF hosts and the loader picks the best the CPU has (as linear.cu's _simd
// kernels): their loops run 16 (AVX-512), 8 (AVX2) or 4 (SSE2) floats wide. fp-contract=off keeps a*b + c two
// roundings in every clone, so the three give bitwise the same results (row_exp relies on it, too).
#if !defined(__CUDACC__) && defined(__x86_64__) && defined(__ELF__) && defined(__GNUC__) && !defined(__clang__)
#define ROW_SIMD_CLONES \
    __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default"), optimize("fp-contract=off")))
#elif !defined(__CUDACC__) && defined(__x86_64__) && defined(__ELF__) && defined(__clang__)
#define ROW_SIMD_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define ROW_SIMD_CLONES
#endif

#if !defined(__CUDACC__) && defined(__GNUC__)
// ROW_LANES floats (and their bits, and as many doubles) as one GCC vector: the host's row loops and the
// cross-entropy's rows side by side (xent_terms.cuh) run on them.
typedef float row_lanes_f32 __attribute__((vector_size(4 * ROW_LANES)));
typedef std::uint32_t row_lanes_u32 __attribute__((vector_size(4 * ROW_LANES)));
typedef std::int32_t row_lanes_i32 __attribute__((vector_size(4 * ROW_LANES)));
typedef double row_lanes_f64 __attribute__((vector_size(8 * ROW_LANES)));
typedef std::int64_t row_lanes_i64 __attribute__((vector_size(8 * ROW_LANES)));
// Twice as many (the exp loops form two vectors of exps a step).
typedef float row_lanes2_f32 __attribute__((vector_size(8 * ROW_LANES)));
typedef std::uint32_t row_lanes2_u32 __attribute__((vector_size(8 * ROW_LANES)));
#endif

__device__ __forceinline__ float row_neg_inf() { return __int_as_float(static_cast<int>(0xff800000u)); }
__device__ __forceinline__ float max2(float a, float b) { return a > b ? a : b; }

#if defined(__CUDACC__)

__device__ __forceinline__ float row_exp(float x) { return expf(x); }

#else

// exp(x) for x <= 0 without branches, so that loops over a row vectorize:
// x = n·ln2 + r with |r| <= ln2/2, exp(r) = 1 + r + r²·P(r) with Cephes' degree-5 P, 2^n built in the exponent
// bits. r is kept as rh + rl with rh = x - n·ln2_hi exact (n·ln2_hi has 9 significant bits) and 1 + rh split
// exactly (Fast2Sum), so that only the last addition rounds at the size of the result: at most 0.69 ulp from
// exp over [-87.34, 0] (every 97th float, 1.15e7 points, against double exp; the plain Cephes form before:
// 0.98). Every operation is a separate IEEE rounding: the row kernels' SIMD clones (ROW_SIMD_CLONES)
// are compiled without FMA contraction, so SSE2, AVX2 and AVX-512 give the same bits.
// x < -87.3 (below the smallest normal float, -inf included) gives 0 through a
// bit mask; a select there would become a branch under -ftrapping-math and stop
// the vectorizer. NaN stays NaN. No float->int conversion (undefined for NaN):
// adding 1.5·2^23 rounds to an integer and leaves it in the low mantissa bits.
// row_exp_hl(x, lo) = exp(x + lo) for a tiny lo (|lo| <= ulp(x)/2, the rounding error of a difference, see
// row_exp_sub): lo joins the reduced argument, so it costs no second rounding. The pieces: exp(x + lo) =
// (head + tail)·scale, head = 1 + rh rounded (exact sum with part of tail), scale = 2^n; row_exp_hl_f64 adds them in
// double instead, a result within 0.21 ulp (of float) of exp, which the _row kernel's double row sums use.
template <typename F>
struct RowExpPiecesOf {
    F head, tail, scale;
};
using RowExpPieces = RowExpPiecesOf<float>;

// Bits of a float (or of a GCC vector of floats) as U, and back: memcpy, which is a bit cast for both (a cast of a
// scalar would convert its value).
template <typename To, typename From>
__device__ __forceinline__ To row_bits_as(From from) {
    static_assert(sizeof(To) == sizeof(From), "a bit cast keeps the size");
    To to;
    std::memcpy(&to, &from, sizeof to);
    return to;
}

// F is float (U std::uint32_t) or a GCC vector of floats (U the matching vector of uint32): one definition for the
// scalar row_exp and for the row loops' vector forms (row_exp_sub_lanes2, xent_row_sums_f64_lanes), so both give the
// same bits by construction. Always inlined, as the rest of the exp: an out-of-line copy is compiled for the
// baseline x86-64, and a caller in an AVX clone would pass it the vectors in other registers (the ABI that -Wpsabi
// warns of) and round without the clone's FMA contraction.
template <typename F, typename U>
__device__ __forceinline__ RowExpPiecesOf<F> row_exp_pieces_of(F x, F lo) {
    F t = x * 1.44269504088896341f + 12582912.0f;
    F n = t - 12582912.0f;
    F rh = x - n * 0.693359375f;  // exact
    F rl = n * -2.12194440e-4f;   // r = rh - rl; ln2 = 0.693359375 - 2.12194440e-4
    F r = (rh - rl) + lo;
    F p = r * 1.9875691500e-4f + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    F c = p * (r * r);            // exp(r) - 1 - r
    F one_rh = 1.0f + rh;
    F one_rh_err = (1.0f - one_rh) + rh;  // exact: 1 + rh = one_rh + one_rh_err
    U scale_bits = (row_bits_as<U>(t) - 0x4B400000u + 127u) << 23;
    return {one_rh, ((one_rh_err - rl) + lo) + c, row_bits_as<F>(scale_bits)};
}

__device__ __forceinline__ RowExpPieces row_exp_pieces(float x, float lo) { return row_exp_pieces_of<float, std::uint32_t>(x, lo); }

__device__ __forceinline__ float row_exp_hl(float x, float lo) {
    RowExpPieces q = row_exp_pieces(x, lo);
    float result = (q.head + q.tail) * q.scale;
    std::uint32_t bits;
    std::memcpy(&bits, &result, 4);
    bits &= 0u - static_cast<std::uint32_t>(!(x < -87.33654f));
    std::memcpy(&result, &bits, 4);
    return result;
}

// row_exp_hl_f64's steps on a float or on lanes of floats: the pieces to double, and the pieces' bits kept where x is
// at or above the cut (or NaN), zeroed below it, so that the result there is (0 + 0)·0 = +0. (Masking the three
// floats costs half the operations of masking the double results, which give the same bits.)
__device__ __forceinline__ double row_to_f64(float v) { return static_cast<double>(v); }
#if defined(__GNUC__)
__device__ __forceinline__ row_lanes_f64 row_to_f64(row_lanes_f32 v) {
    return __builtin_convertvector(v, row_lanes_f64);
}
#endif

// All ones where x is at or above the exp's cut (or NaN), 0 below it: the bits of F (float or lanes of floats) as U.
// row_exp_hl_f64_of and row_exp_sub_add_pair mask with it.
template <typename F, typename U>
__device__ __forceinline__ U row_keep_above_cut(F x) {
    if constexpr (std::is_same<F, float>::value)
        return 0u - static_cast<U>(!(x < -87.33654f));
    else
        return (U)(x < -87.33654f) ^ 0xFFFFFFFFu;  // a vector comparison gives all ones where true
}

// F float (U uint32, D double) or row_lanes_f32 (row_lanes_u32, row_lanes_f64): one definition for the _row
// kernel's double exps and for the cross-entropy's rows side by side (xent_row_sums_f64_lanes).
template <typename F, typename U, typename D>
__device__ __forceinline__ D row_exp_hl_f64_of(F x, F lo) {
    RowExpPiecesOf<F> q = row_exp_pieces_of<F, U>(x, lo);
    const U keep = row_keep_above_cut<F, U>(x);
    auto kept = [keep](F v) __attribute__((always_inline)) {
        return row_to_f64(row_bits_as<F>(row_bits_as<U>(v) & keep));
    };
    return (kept(q.head) + kept(q.tail)) * kept(q.scale);
}

__device__ __forceinline__ double row_exp_hl_f64(float x, float lo) {
    return row_exp_hl_f64_of<float, std::uint32_t, double>(x, lo);
}

// x + -0.0f is x for every x (signed zeros included), so the compiler drops the lo terms.
__device__ __forceinline__ float row_exp(float x) { return row_exp_hl(x, -0.0f); }

#endif

#if defined(__CUDACC__)

// The host's row_exp pieces on a GPU, for the cross-entropy GPU variants (row_exp_sub_poly): the same reduction and
// polynomial with fmaf where a multiply meets an add, every other product rounded apart (__fmul_rn, so that the
// compiler contracts nothing else). Measured over every float in [-87.34, 0] against double exp by
// tests/accuracy/row_exp_fmaf.cpp (the same operations with std::fmaf): the float result within 0.704 ulp (the host
// form 0.702), the double one within 0.217; CUDA's expf is documented at 2 ulp.
struct RowExpPieces {
    float head, tail, scale;
};

__device__ __forceinline__ RowExpPieces row_exp_pieces(float x, float lo) {
    float t = fmaf(x, 1.44269504088896341f, 12582912.0f);
    float n = t - 12582912.0f;
    float rh = fmaf(n, -0.693359375f, x);  // exact
    float rl = __fmul_rn(n, -2.12194440e-4f);
    float r = (rh - rl) + lo;
    float p = 1.9875691500e-4f;
    p = fmaf(p, r, 1.3981999507e-3f);
    p = fmaf(p, r, 8.3334519073e-3f);
    p = fmaf(p, r, 4.1665795894e-2f);
    p = fmaf(p, r, 1.6666665459e-1f);
    p = fmaf(p, r, 5.0000001201e-1f);
    float c = __fmul_rn(p, __fmul_rn(r, r));
    float one_rh = 1.0f + rh;
    float one_rh_err = (1.0f - one_rh) + rh;
    float scale = __uint_as_float((__float_as_uint(t) - 0x4B400000u + 127u) << 23);
    return {one_rh, ((one_rh_err - rl) + lo) + c, scale};
}

__device__ __forceinline__ float row_exp_hl(float x, float lo) {
    RowExpPieces q = row_exp_pieces(x, lo);
    float result = __fmul_rn(q.head + q.tail, q.scale);
    return x < -87.33654f ? 0.0f : result;
}

__device__ __forceinline__ double row_exp_hl_f64(float x, float lo) {
    RowExpPieces q = row_exp_pieces(x, lo);
    double result = (static_cast<double>(q.head) + static_cast<double>(q.tail)) * static_cast<double>(q.scale);
    return x < -87.33654f ? 0.0 : result;
}

#endif

// The rounding error of d = x - m, exact (Knuth's TwoSum, no branch): x - m = d + row_sub_err(x, m, d).
template <typename F>
__device__ __forceinline__ F row_sub_err(F x, F m, F d) {
    F m_part = d - x;
    F x_part = d - m_part;
    return (x - x_part) + (-m - m_part);
}

// exp(x - m) for x <= m, the rounding of x - m included: d = x - m rounds by up to ulp(d)/2, which exp turns
// into a relative error of |d|·2^-24 (up to 44 ulp at d = -87; 4 ulp at the d = -8 of ordinary logits), so the
// exact remainder lo = (x - m) - d (Knuth's TwoSum, no branch) is folded into the exponent. Every softmax and
// cross-entropy exponential goes through here. A -inf x gives 0 (lo is NaN there, but row_exp_hl's mask and the
// select below drop it); NaN stays NaN.
__device__ __forceinline__ float row_exp_sub(float x, float m) {
    float d = x - m;
    float lo = row_sub_err(x, m, d);
#if defined(__CUDACC__)
    lo = d > -88.0f ? lo : 0.0f;
    float e = expf(d);
    return fmaf(e, lo, e);
#else
    return row_exp_hl(d, lo);
#endif
}

// row_exp_sub as a double: on the host within 0.21 ulp (of float) of exp(x - m), where the float result is within
// 0.69; on CUDA the float result (the _row kernel is the CPU device's; a GPU runs it only when asked to).
__device__ __forceinline__ double row_exp_sub_f64(float x, float m) {
#if defined(__CUDACC__)
    return row_exp_sub(x, m);
#else
    float d = x - m;
    return row_exp_hl_f64(d, row_sub_err(x, m, d));
#endif
}

// row_exp_sub and row_exp_sub_f64 through the polynomial on every device: on the host they are those functions, on
// a GPU the fmaf form of the same polynomial (0.704 and 0.217 ulp, see row_exp_pieces) instead of expf (2 ulp).
// The cross-entropy GPU variants use them, so that a gradient entry e·k is within 2 ulp on a GPU as well.
__device__ __forceinline__ float row_exp_sub_poly(float x, float m) {
    float d = x - m;
    return row_exp_hl(d, row_sub_err(x, m, d));
}

__device__ __forceinline__ double row_exp_sub_poly_f64(float x, float m) {
    float d = x - m;
    return row_exp_hl_f64(d, row_sub_err(x, m, d));
}

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

#if !defined(__CUDACC__) && defined(__GNUC__)
// On the host the lanes are GCC vectors (GCC kept the eight scalar max2 of the loop below as vmaxss, and the max pass
// alone then ran at ~12 GB/s), four of 2·ROW_LANES lanes a step (with one vector a step, each step waited on the
// last one's vmaxps). `v > acc ? v : acc` is max2 lane by lane. The max of the same values in another order is the
// same float; only the sign of a zero max may differ (which of +0 and -0 is met first), and the outputs do not
// depend on it (x - m is then ±0, whose exp is 1 either way).
__device__ __forceinline__ float row_max(const float* x, int C) {
    constexpr int lanes = 2 * ROW_LANES;
    auto max_into = [x](row_lanes2_f32& acc, int c) __attribute__((always_inline)) {
        row_lanes2_f32 v;
        std::memcpy(&v, x + c, sizeof v);
        acc = v > acc ? v : acc;
    };
    const row_lanes2_f32 floor = ROW_MAX_FLOOR - row_lanes2_f32{};
    row_lanes2_f32 acc0 = floor, acc1 = floor, acc2 = floor, acc3 = floor;
    int c = 0;
    for (; c + 4 * lanes <= C; c += 4 * lanes) {
        max_into(acc0, c);
        max_into(acc1, c + lanes);
        max_into(acc2, c + 2 * lanes);
        max_into(acc3, c + 3 * lanes);
    }
    for (; c + lanes <= C; c += lanes) max_into(acc0, c);
    acc0 = acc1 > acc0 ? acc1 : acc0;
    acc2 = acc3 > acc2 ? acc3 : acc2;
    acc0 = acc2 > acc0 ? acc2 : acc0;
    float m = ROW_MAX_FLOOR;
    for (; c < C; ++c) m = max2(x[c], m);
    for (int j = 0; j < lanes; ++j) m = max2(acc0[j], m);
    return m;
}
#else
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
#endif

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

// Σ_c term(c) in double, ROW_LANES lanes (SIMD on the host), lanes added in order: float terms of a row of any
// length sum with a relative error below 2^-40, so the order no longer shows in a float result.
template <typename Term>
__device__ __forceinline__ double row_sum_f64(int C, Term term) {
#if defined(__CUDACC__)
    constexpr int lanes = 1;  // a GPU thread has no SIMD lanes; 16 (and 2) doubles made the _row kernel spill
#else
    constexpr int lanes = 2 * ROW_LANES;  // four independent 4-double chains: vaddpd's latency does not bind
#endif
    double acc[lanes] = {};
    int c = 0;
    for (; c + lanes <= C; c += lanes)
        for (int j = 0; j < lanes; ++j) acc[j] += term(c + j);
#if !defined(__CUDACC__)
    if (c + ROW_LANES <= C) {  // short rows (C = 10) keep one SIMD step
        for (int j = 0; j < ROW_LANES; ++j) acc[j] += term(c + j);
        c += ROW_LANES;
    }
#endif
    for (; c < C; ++c) acc[0] += term(c);
    double total = 0.0;
    for (int j = 0; j < lanes; ++j) total += acc[j];
    return total;
}

// row_exp_sum_except in double (row_exp_sub_f64, row_sum_f64): e, when not null, receives each exp rounded to
// float; term(c) is the column's logit.
template <typename Term>
__device__ __forceinline__ double row_exp_sum_of_except_f64(int C, Term term, float m, float* e, int skip) {
    if (e)
        return row_sum_f64(C, [=](int c) {
            double v = row_exp_sub_f64(term(c), m);
            e[c] = static_cast<float>(v);
            return v * static_cast<double>(c != skip);
        });
    return row_sum_f64(C, [=](int c) { return row_exp_sub_f64(term(c), m) * static_cast<double>(c != skip); });
}

#if !defined(__CUDACC__) && defined(__GNUC__)

// e[i] = row_exp_sub(x[i], m) for 2·ROW_LANES floats, as one GCC vector: row_sub_err and row_exp_pieces_of on
// vectors, and row_exp_hl's mask, so bitwise the scalar results. Each exp is a chain of ~25 dependent operations;
// as scalar code GCC made one 8-float vector a step and kept the lanes on the stack, and the core's scheduler then
// held little more than one step's chain, so the loop ran at its latency. Two vectors' worth a step run 1.35x faster in cache (and
// 32 floats a step spill).
__device__ __forceinline__ void row_exp_sub_lanes2(const float* x, float m, float* e) {
    row_lanes2_f32 xv;
    std::memcpy(&xv, x, sizeof xv);
    row_lanes2_f32 mv = m - row_lanes2_f32{};
    row_lanes2_f32 d = xv - mv;
    RowExpPiecesOf<row_lanes2_f32> q = row_exp_pieces_of<row_lanes2_f32, row_lanes2_u32>(d, row_sub_err(xv, mv, d));
    row_lanes2_f32 result = (q.head + q.tail) * q.scale;
    row_lanes2_u32 keep = (row_lanes2_u32)(d < -87.33654f) ^ 0xFFFFFFFFu;  // all ones where d >= -87.33654, or NaN
    row_lanes2_u32 bits = (row_lanes2_u32)result & keep;
    std::memcpy(e, &bits, sizeof bits);
}

// The _row kernel's sum of a row's exps, Σ_{c != skip} exp(x_c - m), in compensated float pairs instead of doubles
// (no conversions: 1.25x faster than the same sum in double lanes). Each exp is its exact value: with row_exp_pieces'
// head, tail and scale = 2^n, h = head·scale and t = tail·scale are exact (h is a normal float down to the -87.34
// cut; t may round only for exps below ~2^-100, by under 2^-149), and v = h + t, one rounding, is row_exp_sub's
// float, stored into e when STORE; its rounding error is exactly t - (v - h). A lane's (hi, lo) adds v by TwoSum
// (hi + v = sum + err exactly) and both errors into lo, so that lo holds only roundings (a few ulp of hi) and
// hi + lo the lane's sum to a relative ~2^-40, far below the float results' ulp; the lanes meet in double, in a
// fixed order.
template <typename F, typename U, bool STORE>
__device__ __forceinline__ void row_exp_sub_add_pair(const float* x, F mv, float* e, F& hi, F& lo) {
    F xv;
    std::memcpy(&xv, x, sizeof xv);
    const F d = xv - mv;
    const RowExpPiecesOf<F> q = row_exp_pieces_of<F, U>(d, row_sub_err(xv, mv, d));
    const U keep = row_keep_above_cut<F, U>(d);
    const F h = row_bits_as<F>(row_bits_as<U>(q.head * q.scale) & keep);
    const F t = row_bits_as<F>(row_bits_as<U>(q.tail * q.scale) & keep);
    const F v = h + t;
    if (STORE) std::memcpy(e, &v, sizeof v);
    const F v_err = t - (v - h);  // exact (Fast2Sum: |t| < |h|/8)
    const F sum = hi + v;
    const F v_part = sum - hi;
    lo += ((hi - (sum - v_part)) + (v - v_part)) + v_err;
    hi = sum;
}

// The skipped column (the label) is read as -inf, whose exp is 0, from a copy of the 32 columns around it, so that
// no other step masks; its exp is stored apart. e: STORE's output.
template <bool STORE>
__device__ __forceinline__ double row_exp_sum_except_pairs(const float* x, int C, float m, float* e, int skip) {
    constexpr int lanes = 2 * ROW_LANES, step = 2 * lanes;
    const row_lanes2_f32 m16 = m - row_lanes2_f32{};
    float patched[step];
    const int skip_from = skip < 0 ? C : skip / step * step;  // the first column of the copy
    if (skip_from < C) {
        for (int j = 0; j < step && skip_from + j < C; ++j) patched[j] = x[skip_from + j];
        patched[skip - skip_from] = row_neg_inf();
    }
    auto out = [e](int c) __attribute__((always_inline)) { return STORE ? e + c : nullptr; };
    auto at = [&](int c) __attribute__((always_inline)) {
        return c >= skip_from && c < skip_from + step ? patched + (c - skip_from) : x + c;
    };
    // Two pairs of 16 lanes, so that a step forms 32 exps as two independent chains; then 16, 8, and one at a time.
    row_lanes2_f32 hi_a = {}, lo_a = {}, hi_b = {}, lo_b = {};
    int c = 0;
    for (; c + step <= C; c += step) {
        const float* src = c == skip_from ? patched : x + c;
        row_exp_sub_add_pair<row_lanes2_f32, row_lanes2_u32, STORE>(src, m16, out(c), hi_a, lo_a);
        row_exp_sub_add_pair<row_lanes2_f32, row_lanes2_u32, STORE>(src + lanes, m16, out(c + lanes), hi_b, lo_b);
    }
    if (c + lanes <= C) {
        row_exp_sub_add_pair<row_lanes2_f32, row_lanes2_u32, STORE>(at(c), m16, out(c), hi_a, lo_a);
        c += lanes;
    }
    row_lanes_f32 hi8 = {}, lo8 = {};
    if (c + ROW_LANES <= C) {
        row_exp_sub_add_pair<row_lanes_f32, row_lanes_u32, STORE>(at(c), m - row_lanes_f32{}, out(c), hi8, lo8);
        c += ROW_LANES;
    }
    float hi1 = 0.0f, lo1 = 0.0f;
    for (; c < C; ++c) row_exp_sub_add_pair<float, std::uint32_t, STORE>(at(c), m, out(c), hi1, lo1);
    if (STORE && skip >= 0) e[skip] = row_exp_sub(x[skip], m);
    double total = static_cast<double>(hi1) + static_cast<double>(lo1);
    for (int j = 0; j < ROW_LANES; ++j) total += static_cast<double>(hi8[j]) + static_cast<double>(lo8[j]);
    for (int j = 0; j < lanes; ++j) total += static_cast<double>(hi_a[j]) + static_cast<double>(lo_a[j]);
    for (int j = 0; j < lanes; ++j) total += static_cast<double>(hi_b[j]) + static_cast<double>(lo_b[j]);
    return total;
}

// e, when not null, receives exp(x - m) for every column.
__device__ __forceinline__ double row_exp_sum_except_pairs(const float* x, int C, float m, float* e, int skip) {
    return e ? row_exp_sum_except_pairs<true>(x, C, m, e, skip) : row_exp_sum_except_pairs<false>(x, C, m, e, skip);
}
#endif

// Σ exp(x - m); when e is not null it also receives exp(x - m).
__device__ __forceinline__ float row_exp_sum(const float* x, float m, float* e, int C) {
#if !defined(__CUDACC__) && defined(__GNUC__)
    if (e) {  // row_sum's order: ROW_LANES lanes per chunk of ROW_CHUNK, chunk totals in order, the tail alone
        float total = 0.0f;
        int c = 0;
        while (c + ROW_LANES <= C) {
            row_lanes_f32 acc = {};
            int chunk_end = C - c > ROW_CHUNK ? c + ROW_CHUNK : C;
            for (; c + 2 * ROW_LANES <= chunk_end; c += 2 * ROW_LANES) {
                row_exp_sub_lanes2(x + c, m, e + c);
                row_lanes_f32 first, second;
                std::memcpy(&first, e + c, sizeof first);
                std::memcpy(&second, e + c + ROW_LANES, sizeof second);
                acc += first;
                acc += second;
            }
            if (c + ROW_LANES <= chunk_end) {
                row_lanes_f32 last;
                for (int j = 0; j < ROW_LANES; ++j) last[j] = e[c + j] = row_exp_sub(x[c + j], m);
                acc += last;
                c += ROW_LANES;
            }
            float chunk = 0.0f;
            for (int j = 0; j < ROW_LANES; ++j) chunk += acc[j];
            total += chunk;
        }
        for (; c < C; ++c) {
            float v = row_exp_sub(x[c], m);
            e[c] = v;
            total += v;
        }
        return total;
    }
#endif
    if (e)
        return row_sum(C, [=](int c) {
            float v = row_exp_sub(x[c], m);
            e[c] = v;
            return v;
        });
    return row_sum(C, [=](int c) { return row_exp_sub(x[c], m); });
}

// Σ_{c != skip} exp(x - m) (skip = -1: every column); e, when not null, receives exp(x - m) for every c.
// The cross-entropy kernels skip the label, so that log Σ = log1p(the rest) keeps its digits when the label
// holds the row max (xent_log_sum).
__device__ __forceinline__ float row_exp_sum_except(const float* x, float m, float* e, int C, int skip) {
    if (e)
        return row_sum(C, [=](int c) {
            float v = row_exp_sub(x[c], m);
            e[c] = v;
            return v * static_cast<float>(c != skip);  // 0·NaN = NaN: a NaN label term still makes the row NaN
        });
    return row_sum(C, [=](int c) { return row_exp_sub(x[c], m) * static_cast<float>(c != skip); });
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

// ---- compensated float sums: the value is hi + lo -----------------------------
//
// The cross-entropy GPU variants' sums (cross_entropy.cu): each addition's rounding error is kept in lo (Knuth's
// TwoSum, no branch), so that a float sum of n terms is within ~n·2^-24·|lo| + the final rounding of its exact
// value rather than n·2^-24 of it; the work per term stays float. The lanes' and warps' pairs are combined in the
// same fixed trees as warp_sum/block_sum; TwoSum's error is exact, so a + b and b + a give the same bits.

struct RowSum2 {
    float hi, lo;
};

__device__ __forceinline__ void sum2_add(RowSum2& s, float v) {
    float t = s.hi + v;
    float v_part = t - s.hi;
    s.lo += (s.hi - (t - v_part)) + (v - v_part);
    s.hi = t;
}

// s += x - m with the rounding error of x - m (TwoSum, as row_exp_sub) added to lo as well.
__device__ __forceinline__ void sum2_add_sub(RowSum2& s, float x, float m) {
    float d = x - m;
    s.lo += row_sub_err(x, m, d);
    sum2_add(s, d);
}

__device__ __forceinline__ RowSum2 sum2_combine(RowSum2 a, RowSum2 b) {
    RowSum2 s{a.hi, a.lo + b.lo};
    sum2_add(s, b.hi);
    return s;
}

// hi + lo in double; an infinite or NaN hi is the sum (lo is NaN once hi has passed ±inf).
__device__ __forceinline__ double sum2_value(RowSum2 s) {
    return s.hi - s.hi == 0.0f ? static_cast<double>(s.hi) + static_cast<double>(s.lo) : static_cast<double>(s.hi);
}

// A double as a float pair (hi its rounding, lo the rest rounded): what sum2_combine takes.
__device__ __forceinline__ RowSum2 sum2_from(double v) {
    float hi = static_cast<float>(v);
    return {hi, hi - hi == 0.0f ? static_cast<float>(v - hi) : 0.0f};
}

// ---- pairs of floats reduced over a warp and a block -----------------------------
// Pair: an aggregate of two floats, named by the members A and B (C++11: no structured bindings in the CUDA 13
// profile's check); combine(a, b) merges two of them; identity is what warps past the last contribute. Every
// thread gets the result; scratch holds 64 floats (see block_sum).

template <class Pair, float Pair::*A, float Pair::*B, class Combine>
__device__ __forceinline__ Pair warp_reduce_pair(Pair s, Combine combine) {
    for (int offset = 16; offset > 0; offset >>= 1)
        s = combine(s, Pair{__shfl_xor_sync(0xffffffffu, s.*A, offset), __shfl_xor_sync(0xffffffffu, s.*B, offset)});
    return s;
}

template <class Pair, float Pair::*A, float Pair::*B, class Combine>
__device__ __forceinline__ Pair block_reduce_pair(Pair s, float* scratch, Pair identity, Combine combine) {
    int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
    s = warp_reduce_pair<Pair, A, B>(s, combine);
    __syncthreads();
    if (lane == 0) {
        scratch[warp] = s.*A;
        scratch[32 + warp] = s.*B;
    }
    __syncthreads();
    return warp_reduce_pair<Pair, A, B>(lane < warps ? Pair{scratch[lane], scratch[32 + lane]} : identity, combine);
}

__device__ __forceinline__ RowSum2 warp_sum2(RowSum2 s) {
    return warp_reduce_pair<RowSum2, &RowSum2::hi, &RowSum2::lo>(s, [](RowSum2 a, RowSum2 b) { return sum2_combine(a, b); });
}

__device__ __forceinline__ RowSum2 block_sum2(RowSum2 s, float* scratch) {
    return block_reduce_pair<RowSum2, &RowSum2::hi, &RowSum2::lo>(s, scratch, RowSum2{0.0f, 0.0f},
                                                               [](RowSum2 a, RowSum2 b) { return sum2_combine(a, b); });
}

// ---- online softmax: (m, d) = (running max, Σ exp(x - m)) ---------------------

struct OnlineMaxSum {
    float m;
    float d;
};

__device__ __forceinline__ void online_add(OnlineMaxSum& s, float x) {
    if (x > s.m) {
        s.d = s.d * row_exp_sub(s.m, x) + 1.0f;
        s.m = x;
    } else {
        s.d += row_exp_sub(x, s.m);
    }
}

__device__ __forceinline__ OnlineMaxSum online_combine(OnlineMaxSum a, OnlineMaxSum b) {
    float m = max2(a.m, b.m);
    return {m, a.d * row_exp_sub(a.m, m) + b.d * row_exp_sub(b.m, m)};
}

__device__ __forceinline__ OnlineMaxSum warp_online(OnlineMaxSum s) {
    return warp_reduce_pair<OnlineMaxSum, &OnlineMaxSum::m, &OnlineMaxSum::d>(
        s, [](OnlineMaxSum a, OnlineMaxSum b) { return online_combine(a, b); });
}

// scratch holds 64 floats.
__device__ __forceinline__ OnlineMaxSum block_online(OnlineMaxSum s, float* scratch) {
    return block_reduce_pair<OnlineMaxSum, &OnlineMaxSum::m, &OnlineMaxSum::d>(
        s, scratch, OnlineMaxSum{ROW_MAX_FLOOR, 0.0f}, [](OnlineMaxSum a, OnlineMaxSum b) { return online_combine(a, b); });
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
            float v = row_exp_sub(term(c), m);
            e[c] = v;
            return v;
        });
    return row_sum(C, [=](int c) { return row_exp_sub(term(c), m); });
}

// row_exp_sum_of with a skipped column (see row_exp_sum_except).
template <typename Term>
__device__ __forceinline__ float row_exp_sum_of_except(int C, Term term, float m, float* e, int skip) {
    if (e)
        return row_sum(C, [=](int c) {
            float v = row_exp_sub(term(c), m);
            e[c] = v;
            return v * static_cast<float>(c != skip);  // 0·NaN = NaN: a NaN label term still makes the row NaN
        });
    return row_sum(C, [=](int c) { return row_exp_sub(term(c), m) * static_cast<float>(c != skip); });
}
