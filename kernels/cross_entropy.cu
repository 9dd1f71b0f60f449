// cross_entropy.cu — softmax cross-entropy of N×C logits x (row stride ldx)
// against int32 labels y, with PyTorch's ignore_index and label smoothing ε:
//
//   p = softmax(x_r),  lse_r = log Σ_c exp(x_rc) = m_r + log Σ_c exp(x_rc - m_r)
//   loss_r = (1 - ε)·(lse_r - x_r,y) + ε·mean_c(lse_r - x_rc)      (0 for an ignored row)
//   grad_rc = (p_c - (1 - ε)·[c = y_r] - ε/C)·scale                 (0 for an ignored row)
//   scale = grad_scale / (number of non-ignored rows) for a mean, grad_scale otherwise
//
// A label outside [0, C) that is not ignore_index is reported in *status (see
// report_bad_label) and the row is treated as ignored; the caller turns the
// status into an error. Edge cases, as the formulas give them: an -inf logit
// at the label gives loss +inf with a finite gradient; a row of all -inf logits
// has no softmax (0/0): its p is taken as all zeros (as softmax.cu does), so its
// loss is +inf and its gradient -(target)·scale. Logits of ±1e4 are exact: all
// exponentials are of x - m <= 0. A +inf or NaN logit makes the row's loss,
// lse and gradient NaN in every variant and in the naive chain (PyTorch gives
// NaN too; its logsumexp alone would say +inf for a +inf row). An ignored row
// stays 0 whatever its logits.
//
// Naive chain (d2l's from-scratch recipe; one thread per row, every step its own
// launch; the softmax is softmax.cu's naive chain into an N×C workspace p):
//   xent_log_f32            logp = log(max(p, 1e-12))    (the clip: loss <= 27.631; NaN stays NaN)
//   xent_nll_gather_f32     loss_r = (1 - ε)·(-logp[y_r]) + ε·mean_c(-logp_c)
//   xent_backward_f32       grad = (p - target)·scale
// Fused: one launch computes max, log-sum-exp, loss and, when grad is not null,
// the gradient in the same pass; it keeps nothing per row but the optional lse:
//   xent_fused_forward_backward_f32_row       thread per row, no barrier (CPU device)
//   xent_fused_forward_backward_f32_warp32    warp per row, row in registers
//   xent_fused_forward_backward_f32_warp256     (C <= 32, 256, 1024)
//   xent_fused_forward_backward_f32_warp1024
//   xent_fused_forward_backward_f32_block     block per row, row in dynamic shared memory (4·C bytes)
//   xent_fused_forward_backward_f32_online    block per row, streaming online softmax, any C
// Every fused variant takes
//   (const float* x, int N, int C, int ldx, const int* labels, int ignore_index, float smoothing,
//    float* loss /*N*/, float* lse /*N or null*/, float grad_scale, const int* valid_count /*null: 1*/,
//    float* grad /*N×C, row stride ldg, or null for the forward only*/, int ldg, unsigned long long* status,
//    float z_loss_scale, float softcap, const float* class_weight /*C or null*/,
//    const float* weight_totals /*2, with class_weight*/, float* z_loss /*N or null*/)
// The last five are the optional terms (z-loss, logit softcapping, class weights; see XentTerms below);
// 0, 0, null, null, null gives bitwise the results without them.
// Accuracy: every fused variant's loss and gradient within 2 ulp of the float64 truth. _row sums in double on a
// GPU and in compensated float pairs of exact exps on the host (row_exp_sum_except_pairs: the double sum's value to
// ~2^-40); the GPU variants in compensated float (RowSum2) with the host's exp polynomial on a GPU too
// (row_exp_sub_poly); all form the row's scalars in double and round each output once ("the GPU variants' row
// scalars" below).
// Launch shapes and the dispatch rule are softmax.cu's.
// Shared by both paths, one block each, fixed summation order (no float atomics):
//   xent_count_valid_i32    *count = number of rows with a label in [0, C) other than ignore_index
//   xent_weight_sum_f32     totals = {Σ_c w_c, Σ w_y over those rows (mean) or 1}: the class-weight totals
//   xent_reduce_f32         *out = Σ loss (sum) or Σ loss / count (mean; 0 when every row is ignored), or
//                           Σ loss / weight_totals[1] when weight_totals is not null
//   xent_reduce_accumulate_f32  the same reduction, added (× weight) to device-side totals with the
//                               call's bad-label status and a non-finite loss, so nothing is read per call
//                           blockDim.x a power of two <= 1024 (1 is fine).
#include "rowwise.cuh"
#include "xent_terms.cuh"

#define XENT_PROB_CLIP 1e-12f

// max(p, lo) that lets NaN through, as np.clip and torch.clamp do (max2(NaN, lo)
// would return lo and turn a NaN row into the finite loss 27.631).
__device__ __forceinline__ float clip_below(float p, float lo) { return p < lo ? lo : p; }

// ---- naive chain --------------------------------------------------------------

extern "C" __global__ void SHARPMAX_MAX_THREADS(1024) xent_log_f32(const float* __restrict__ p, int N, int C, int ldp, float* __restrict__ logp,
                                        int ldl) {
    int r = blockIdx.x * blockDim.x + threadIdx.x;
    if (r >= N) return;
    const float* pr = p + static_cast<long long>(r) * ldp;
    float* lr = logp + static_cast<long long>(r) * ldl;
    for (int c = 0; c < C; ++c) lr[c] = logf(clip_below(pr[c], XENT_PROB_CLIP));
}

extern "C" __global__ void SHARPMAX_MAX_THREADS(1024) xent_nll_gather_f32(const float* __restrict__ logp, int N, int C, int ldl,
                                               const int* __restrict__ labels, int ignore_index, float smoothing,
                                               float* __restrict__ loss, unsigned long long* status) {
    int r = blockIdx.x * blockDim.x + threadIdx.x;
    if (r >= N) return;
    int label = labels[r];
    if (!label_in_use(label, C, ignore_index, r, status, true)) {
        loss[r] = 0.0f;
        return;
    }
    const float* lr = logp + static_cast<long long>(r) * ldl;
    float nll = -lr[label];
    if (smoothing != 0.0f) {
        float sum = row_sum(C, [=](int c) { return lr[c]; });
        nll = (1.0f - smoothing) * nll + smoothing * (-sum / static_cast<float>(C));
    }
    loss[r] = nll;
}

extern "C" __global__ void SHARPMAX_MAX_THREADS(1024) xent_backward_f32(const float* __restrict__ p, int N, int C, int ldp,
                                             const int* __restrict__ labels, int ignore_index, float smoothing,
                                             float grad_scale, const int* __restrict__ valid_count,
                                             float* __restrict__ grad, int ldg) {
    int r = blockIdx.x * blockDim.x + threadIdx.x;
    if (r >= N) return;
    float* gr = grad + static_cast<long long>(r) * ldg;
    int label = labels[r];
    if (!label_in_use(label, C, ignore_index, r, nullptr, false)) {
        row_zero(gr, C);
        return;
    }
    const float* pr = p + static_cast<long long>(r) * ldp;
    XentGrad g = xent_grad(grad_scale, valid_count, smoothing, C);
    for (int c = 0; c < C; ++c) gr[c] = g(pr[c], c, label);
}

// ---- fused: one thread per row ------------------------------------------------

#if defined(__CUDACC__)
#define XENT_NO_UNROLL _Pragma("unroll 1")
#else
#define XENT_NO_UNROLL
#endif

#define XENT_PARAMS                                                                                           \
    const float *x, int N, int C, int ldx, const int *labels, int ignore_index, float smoothing, float *loss, \
        float *lse, float grad_scale, const int *valid_count, float *grad, int ldg, unsigned long long *status, \
        float z_loss_scale, float softcap, const float *class_weight, const float *weight_totals, float *z_loss
#define XENT_ARGS                                                                                         \
    x, N, C, ldx, labels, ignore_index, smoothing, loss, lse, grad_scale, valid_count, grad, ldg, status, \
        XentTerms{z_loss_scale, softcap, class_weight, weight_totals, z_loss}
#define XENT_IMPL_PARAMS                                                                                       \
    const float *__restrict__ x, int N, int C, int ldx, const int *__restrict__ labels, int ignore_index,      \
        float smoothing, float *__restrict__ loss, float *__restrict__ lse, float grad_scale,                  \
        const int *__restrict__ valid_count, float *__restrict__ grad, int ldg, unsigned long long *status,    \
        const XentTerms &t
// Each kernel runs its body capped or not: softcap = 0 takes the plain loops, bitwise as without the option.
#define XENT_DISPATCH(body) \
    if (softcap != 0.0f)    \
        body<true>(XENT_ARGS); \
    else                    \
        body<false>(XENT_ARGS)

// The softcapped row with a gradient: x' is computed once into the gradient row, every later pass reads it
// there, and the chain factor is 1 - (x'/cap)^2 (three tanh per entry instead would cost 3x on the CPU device).
__device__ __forceinline__ void xent_row_capped_grad(const float* __restrict__ xr, float* __restrict__ gr, int r, int C,
                                                     int label, bool used, float smoothing, float* __restrict__ loss,
                                                     float* __restrict__ lse, float grad_scale,
                                                     const int* __restrict__ valid_count, const XentTerms& t) {
    float cap = t.cap;
    for (int c = 0; c < C; ++c) gr[c] = xent_logit<true>(xr[c], cap);
    const float* xc = gr;
    float m = row_max(xc, C);
    // The loss and lse as the forward-only path computes them (xent_row), bit for bit.
    double rest_d = row_exp_sum_of_except_f64(C, [=](int c) { return xc[c]; }, m, nullptr, used ? label : -1);
    double e_label_d = used ? row_exp_sub_f64(xc[label], m) : 0.0;
    double s_d = rest_d + e_label_d, log_s_d = xent_log_sum_f64(rest_d, e_label_d);
    if (lse) lse[r] = static_cast<float>(m + log_s_d);
    if (!used) {
        xent_store_unused_row(loss, t, r);
        row_zero(gr, C);
        return;
    }
    double shifted_sum = 0.0;
    if (smoothing != 0.0f) {
        const float* w = t.w;
        if (w)
            shifted_sum = row_sum_f64(C, [=](int c) { return static_cast<double>(w[c]) * (static_cast<double>(xc[c]) - m); });
        else
            shifted_sum = row_sum_f64(C, [=](int c) { return static_cast<double>(xc[c]) - m; });
    }
    loss[r] = xent_row_loss_f64(s_d, m, log_s_d, static_cast<double>(xc[label]) - m, shifted_sum, smoothing, C, label, t, r);
    float rest = static_cast<float>(rest_d), e_label = static_cast<float>(e_label_d), s = static_cast<float>(s_d);
    float log_s = static_cast<float>(log_s_d);
    XentGradTerms<false> g =
        xent_grad_terms<false>(grad_scale, valid_count, smoothing, C, label, s, m, log_s, t, e_label, rest);
    float inv = safe_reciprocal(s), inv_cap = 1.0f / cap;
    auto at = [&](int c, bool weighted) {
        float v = gr[c];
        float p = row_exp_sub(v, m) * inv;
        float th = v * inv_cap;
        float d = weighted ? g.template at<true>(p, c, label, 0.0f) : g.template at<false>(p, c, label, 0.0f);
        return d * (1.0f - th * th);
    };
    if (g.w)
        for (int c = 0; c < C; ++c) gr[c] = at(c, true);
    else
        for (int c = 0; c < C; ++c) gr[c] = at(c, false);
}

// The CPU device's kernel: sums accurate to ~2^-40, the row loss and the gradient's factors in double (xent_terms.cuh,
// "the _row kernel's double row math").
template <bool CAP>
__device__ __forceinline__ void xent_row(XENT_IMPL_PARAMS) {
    int r = blockIdx.x * blockDim.x + threadIdx.x;
    if (r >= N) return;
    const float* xr = x + static_cast<long long>(r) * ldx;
    float* gr = grad ? grad + static_cast<long long>(r) * ldg : nullptr;
    int label = labels[r];
    bool used = label_in_use(label, C, ignore_index, r, status, true);
    if (CAP && gr) {
        xent_row_capped_grad(xr, gr, r, C, label, used, smoothing, loss, lse, grad_scale, valid_count, t);
        return;
    }
#if !defined(__CUDACC__) && defined(__GNUC__)
    // The host: the exps summed in float pairs and the gradient by fmaf (1.4x faster than in double; the forward
    // alone, gr null, takes the same sums, so its loss is the forward-backward's bit for bit).
    if (!CAP) {
        xent_row_f64_from<false, true>(xent_row_sums_pairs(xr, gr, C, label, used), xr, gr, r, C, label, used,
                                       smoothing, loss, lse, grad_scale, valid_count, t);
        return;
    }
#endif
    xent_row_f64<CAP>(xr, gr, r, C, label, used, smoothing, loss, lse, grad_scale, valid_count, t);
}

extern "C" __global__ ROW_SIMD_CLONES void SHARPMAX_MAX_THREADS(1024) xent_fused_forward_backward_f32_row(XENT_PARAMS) {
    XENT_DISPATCH(xent_row);
}

// ---- the GPU variants' row scalars --------------------------------------------
//
// _warp*, _block and _online sum in float, compensated (RowSum2: each thread's terms, then the lanes' and warps'
// pairs in a fixed tree), and form the row's scalars in double as the _row kernel does (xent_row_loss_f64,
// xent_grad_f64): the loss, the lse and the gradient's factor k = pscale·scale/s are each rounded once, and each
// gradient entry is e_c·k - off_c·scale with one rounding (XentGradEntry), so that it carries the error of its
// exp and one rounding (docs/softmax-and-cross-entropy.md, "Accuracy").

// The row's split sum and lse in double: rest = Σ_{j≠y} exp(x_j - m), e_label = exp(x_y - m) (0 for an ignored row).
struct XentRowF64 {
    double rest, e_label, s, lse;
};

// Once a row's max m, its compensated rest and, with smoothing, Σ_j w_j·(x'_j - m) are known: the leader writes the
// lse (when asked) and the loss with every term, or the ignored row's zeros.
template <bool CAP>
__device__ __forceinline__ XentRowF64 xent_row_finish(const float* __restrict__ xr, int r, int C, int label, bool used,
                                                      bool leader, float m, RowSum2 rest2, RowSum2 shifted2,
                                                      float smoothing, float* __restrict__ loss, float* __restrict__ lse,
                                                      const XentTerms& t) {
    double rest = sum2_value(rest2);
    float x_label = used ? xent_logit<CAP>(xr[label], t.cap) : 0.0f;
    double e_label = used ? row_exp_sub_poly_f64(x_label, m) : 0.0;
    double s = rest + e_label, log_s = xent_log_sum_double(rest, e_label);
    if (leader) {
        if (lse) lse[r] = static_cast<float>(m + log_s);
        if (used)
            loss[r] = xent_row_loss_f64(s, m, log_s, static_cast<double>(x_label) - m, sum2_value(shifted2), smoothing,
                                        C, label, t, r);
        else
            xent_store_unused_row(loss, t, r);
    }
    return XentRowF64{rest, e_label, s, m + log_s};
}

__device__ __forceinline__ XentGradEntry xent_row_grad(const XentRowF64& row, float grad_scale,
                                                       const int* __restrict__ valid_count, float smoothing, int C,
                                                       int label, bool used, const XentTerms& t) {
    int y = used ? label : 0;
    return xent_grad_entry(
        xent_grad_f64(grad_scale, valid_count, smoothing, C, y, row.s, row.rest, row.e_label, row.lse, t), y,
        row.e_label);
}

// The softcap's chain factor dx'/dx = 1 - tanh²(x/cap) on a gradient entry (x the raw logit).
template <bool CAP>
__device__ __forceinline__ float xent_cap_chain(float d, float x, float cap) {
    if (!CAP) return d;
    float th = row_tanh(x / cap);
    return d * (1.0f - th * th);
}

// ---- fused: one warp per row, the row in registers ----------------------------

template <int VPT, bool CAP>
__device__ __forceinline__ void xent_warp(XENT_IMPL_PARAMS) {
    int lane = threadIdx.x % 32;
    int r = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
    if (r >= N) return;  // whole warps leave together
    const float* xr = x + static_cast<long long>(r) * ldx;
    int label = labels[r];
    bool used = label_in_use(label, C, ignore_index, r, status, lane == 0);
    float v[VPT];
    float m = ROW_MAX_FLOOR;
    ROW_UNROLL
    for (int i = 0; i < VPT; ++i) {
        int c = lane + 32 * i;
        v[i] = c < C ? xent_logit<CAP>(xr[c], t.cap) : row_neg_inf();
        m = max2(v[i], m);
    }
    m = warp_max(m);
    RowSum2 rest{0.0f, 0.0f}, shifted{0.0f, 0.0f};
    // Label smoothing's Σ w·(x' - m) reads the row again (from cache) in a loop that is not unrolled: unrolled
    // over the registers, the class weights' loads took _warp1024 from 127 to 219 registers, and the compensated
    // sum of v[i] - m from 174 to 248 (ptxas sizes for the worst branch).
    bool smooth = smoothing != 0.0f;
    if (smooth) {
        XENT_NO_UNROLL
        for (int c = lane; c < C; c += 32) {
            float xc = xent_logit<CAP>(xr[c], t.cap);
            if (t.w)
                sum2_add(shifted, t.w[c] * (xc - m));
            else
                sum2_add_sub(shifted, xc, m);
        }
    }
    int skip = used ? label : -1;  // the label's term is summed apart (xent_log_sum)
    ROW_UNROLL
    for (int i = 0; i < VPT; ++i) {
        v[i] = row_exp_sub_poly(v[i], m);
        sum2_add(rest, lane + 32 * i == skip ? 0.0f : v[i]);
    }
    rest = warp_sum2(rest);
    if (smooth) shifted = warp_sum2(shifted);
    XentRowF64 row = xent_row_finish<CAP>(xr, r, C, label, used, lane == 0, m, rest, shifted, smoothing, loss, lse, t);
    if (!grad) return;
    float* gr = grad + static_cast<long long>(r) * ldg;
    XentGradEntry g = xent_row_grad(row, grad_scale, valid_count, smoothing, C, label, used, t);
    // The class weights' ε/C·w_c part of the target and the cap's chain factor follow in a second pass that
    // reads the row again (see above): the first writes e·k (- off·scale without weights).
    bool weight_pass = g.g.w && g.off_s != 0.0f;
    XentGradEntry g_plain = g.g.w ? g.without_off() : g;
    ROW_UNROLL
    for (int i = 0; i < VPT; ++i) {
        int c = lane + 32 * i;
        if (c < C) gr[c] = used ? g_plain.template at<false>(v[i], c) : 0.0f;
    }
    if (used && (CAP || weight_pass)) {
        XENT_NO_UNROLL
        for (int c = lane; c < C; c += 32) {
            float d = gr[c];
            // label_g already holds the label's whole gradient, its weight term included: skipped here.
            if (weight_pass && c != label) d -= g.off_s * g.g.w[c];
            gr[c] = xent_cap_chain<CAP>(d, xr[c], t.cap);
        }
    }
}

template <bool CAP> __device__ __forceinline__ void xent_warp32(XENT_IMPL_PARAMS) { xent_warp<1, CAP>(x, N, C, ldx, labels, ignore_index, smoothing, loss, lse, grad_scale, valid_count, grad, ldg, status, t); }
template <bool CAP> __device__ __forceinline__ void xent_warp256(XENT_IMPL_PARAMS) { xent_warp<8, CAP>(x, N, C, ldx, labels, ignore_index, smoothing, loss, lse, grad_scale, valid_count, grad, ldg, status, t); }
template <bool CAP> __device__ __forceinline__ void xent_warp1024(XENT_IMPL_PARAMS) { xent_warp<32, CAP>(x, N, C, ldx, labels, ignore_index, smoothing, loss, lse, grad_scale, valid_count, grad, ldg, status, t); }

extern "C" __global__ void SHARPMAX_MAX_THREADS(256) xent_fused_forward_backward_f32_warp32(XENT_PARAMS) { XENT_DISPATCH(xent_warp32); }
extern "C" __global__ void SHARPMAX_MAX_THREADS(256) xent_fused_forward_backward_f32_warp256(XENT_PARAMS) { XENT_DISPATCH(xent_warp256); }
extern "C" __global__ void SHARPMAX_MAX_THREADS(256) xent_fused_forward_backward_f32_warp1024(XENT_PARAMS) { XENT_DISPATCH(xent_warp1024); }

// ---- fused: one block per row, the row in shared memory -----------------------

// row: the dynamic shared memory (C floats); scratch: 64 floats of static shared memory. Both are declared in
// the kernel, so that its two instantiations share them.
template <bool CAP>
__device__ __forceinline__ void xent_block(XENT_IMPL_PARAMS, float* row, float* scratch) {
    int r = blockIdx.x;
    if (r >= N) return;  // whole blocks leave together
    const float* xr = x + static_cast<long long>(r) * ldx;
    int label = labels[r];
    bool used = label_in_use(label, C, ignore_index, r, status, threadIdx.x == 0);
    float m = ROW_MAX_FLOOR;
    for (int c = threadIdx.x; c < C; c += blockDim.x) {
        float v = xent_logit<CAP>(xr[c], t.cap);
        row[c] = v;
        m = max2(v, m);
    }
    m = block_max(m, scratch);
    RowSum2 rest{0.0f, 0.0f}, shifted{0.0f, 0.0f};
    bool smooth = smoothing != 0.0f;
    int skip = used ? label : -1;  // the label's term is summed apart (xent_log_sum)
    for (int c = threadIdx.x; c < C; c += blockDim.x) {
        float v = row[c];
        if (smooth) {
            if (t.w)
                sum2_add(shifted, t.w[c] * (v - m));
            else
                sum2_add_sub(shifted, v, m);
        }
        float e = row_exp_sub_poly(v, m);
        row[c] = e;
        sum2_add(rest, c == skip ? 0.0f : e);
    }
    rest = block_sum2(rest, scratch);
    if (smooth) shifted = block_sum2(shifted, scratch);
    XentRowF64 rw = xent_row_finish<CAP>(xr, r, C, label, used, threadIdx.x == 0, m, rest, shifted, smoothing, loss, lse, t);
    if (!grad) return;
    float* gr = grad + static_cast<long long>(r) * ldg;
    XentGradEntry g = xent_row_grad(rw, grad_scale, valid_count, smoothing, C, label, used, t);
    if (g.g.w)
        for (int c = threadIdx.x; c < C; c += blockDim.x)
            gr[c] = used ? xent_cap_chain<CAP>(g.template at<true>(row[c], c), xr[c], t.cap) : 0.0f;
    else
        for (int c = threadIdx.x; c < C; c += blockDim.x)
            gr[c] = used ? xent_cap_chain<CAP>(g.template at<false>(row[c], c), xr[c], t.cap) : 0.0f;
}

extern "C" __global__ void SHARPMAX_MAX_THREADS(1024) xent_fused_forward_backward_f32_block(XENT_PARAMS) {
    SHARPMAX_DYNAMIC_SHARED(float, row);
    SHARPMAX_SHARED(float, scratch, 64);
    if (softcap != 0.0f)
        xent_block<true>(XENT_ARGS, row, scratch);
    else
        xent_block<false>(XENT_ARGS, row, scratch);
}

// ---- fused: one block per row, streaming (online softmax) ---------------------

// One thread's share of the row, streamed once: its running max m, d = Σexp(x - m) (compensated) and
// Σ w·(x - m) over the count entries seen so far, whose weights sum to seen
// (w = 1 and seen = count without class weights). When the max moves, d is rescaled in double by
// exp(old - new) (row_exp_sub_poly_f64: rare, and no float rounding of the product piles up), and the
// earlier shifts move by seen·(old - new): a term of the sign of the sum and
// no larger than it, so nothing cancels. (Σx - C·max would: with |x| ~ 1e4 the
// float Σx has already lost the digits of x - max that the loss needs.)
// The label's column (skip) moves the max but adds nothing to d: its term is summed apart (xent_log_sum).
__device__ __forceinline__ void xent_online_add(float& m, RowSum2& d, RowSum2& shifted_sum, int count, float seen,
                                                float x, float w, bool skip) {
    if (x > m) {
        if (count > 0) sum2_add(shifted_sum, seen * (m - x));
        d = sum2_from(sum2_value(d) * row_exp_sub_poly_f64(m, x));
        sum2_add(d, skip ? 0.0f : 1.0f);
        m = x;
    } else {
        sum2_add(d, skip ? 0.0f : row_exp_sub_poly(x, m));
        sum2_add(shifted_sum, w * (x - m));
    }
}

// scratch: 64 floats of static shared memory, declared in the kernel (see xent_block).
template <bool CAP>
__device__ __forceinline__ void xent_online(XENT_IMPL_PARAMS, float* scratch) {
    int r = blockIdx.x;
    if (r >= N) return;
    const float* xr = x + static_cast<long long>(r) * ldx;
    int label = labels[r];
    bool used = label_in_use(label, C, ignore_index, r, status, threadIdx.x == 0);
    float thread_m = ROW_MAX_FLOOR;
    RowSum2 d{0.0f, 0.0f};
    RowSum2 shifted{0.0f, 0.0f};  // Σ w·(x - thread_m) over this thread's entries
    float seen = 0.0f;            // Σ w over them
    int count = 0;
    for (int c = threadIdx.x; c < C; c += blockDim.x) {
        float w = xent_class_weight(t.w, c);
        xent_online_add(thread_m, d, shifted, count, t.w ? seen : static_cast<float>(count),
                        xent_logit<CAP>(xr[c], t.cap), w, used && c == label);
        ++count;
        seen += w;
    }
    // The row max, then each thread's sum rescaled to it once (in double, as above) and a fixed compensated tree:
    // a (max, sum) tree (block_online) would round every rescaled partial at each of its levels.
    float m = block_max(thread_m, scratch);
    RowSum2 rest = block_sum2(sum2_from(sum2_value(d) * row_exp_sub_poly_f64(thread_m, m)), scratch);
    if (smoothing != 0.0f) {
        // Rebase each thread's sum on the row max (same argument as above), then a fixed tree.
        float rebase = t.w ? seen : static_cast<float>(count);
        if (count > 0)
            sum2_add(shifted, rebase * (thread_m - m));
        else
            shifted = RowSum2{0.0f, 0.0f};
        shifted = block_sum2(shifted, scratch);
    }
    XentRowF64 rw = xent_row_finish<CAP>(xr, r, C, label, used, threadIdx.x == 0, m, rest, shifted, smoothing, loss, lse, t);
    if (!grad) return;
    float* gr = grad + static_cast<long long>(r) * ldg;
    XentGradEntry g = xent_row_grad(rw, grad_scale, valid_count, smoothing, C, label, used, t);
    for (int c = threadIdx.x; c < C; c += blockDim.x) {
        float xc = xr[c];
        float e = row_exp_sub_poly(xent_logit<CAP>(xc, t.cap), m);
        float d_c = g.g.w ? g.template at<true>(e, c) : g.template at<false>(e, c);
        gr[c] = used ? xent_cap_chain<CAP>(d_c, xc, t.cap) : 0.0f;
    }
}

extern "C" __global__ void SHARPMAX_MAX_THREADS(1024) xent_fused_forward_backward_f32_online(XENT_PARAMS) {
    SHARPMAX_SHARED(float, scratch, 64);
    if (softcap != 0.0f)
        xent_online<true>(XENT_ARGS, scratch);
    else
        xent_online<false>(XENT_ARGS, scratch);
}

// ---- count and reduce: one block, a fixed tree --------------------------------

#define XENT_REDUCE_MAX_THREADS 1024

extern "C" __global__ void SHARPMAX_MAX_THREADS(1024) xent_count_valid_i32(const int* __restrict__ labels, int N, int C, int ignore_index,
                                                int* __restrict__ count) {
    SHARPMAX_SHARED(int, partial, XENT_REDUCE_MAX_THREADS);
    int t = threadIdx.x;
    int n = 0;
    for (int r = t; r < N; r += blockDim.x) n += labels[r] != ignore_index && labels[r] >= 0 && labels[r] < C;
    partial[t] = n;
    for (int stride = blockDim.x / 2; stride > 0; stride /= 2) {
        __syncthreads();
        if (t < stride) partial[t] += partial[t + stride];
    }
    if (t == 0) *count = partial[0];
}

// Class-weight totals for the fused kernels and the reduction, in double and a fixed tree:
// totals[0] = Σ_c w_c; totals[1] = Σ_r w_{y_r} over the rows with a label in [0, C) other than
// ignore_index when mean != 0 (PyTorch's divisor of a weighted mean), else 1.
extern "C" __global__ void SHARPMAX_MAX_THREADS(1024) xent_weight_sum_f32(const int* __restrict__ labels, int N, int C,
                                                                          int ignore_index,
                                                                          const float* __restrict__ class_weight,
                                                                          int mean, float* __restrict__ totals) {
    SHARPMAX_SHARED(double, partial, XENT_REDUCE_MAX_THREADS);
    int t = threadIdx.x;
    double sum = 0.0;
    for (int c = t; c < C; c += blockDim.x) sum += class_weight[c];
    partial[t] = sum;
    for (int stride = blockDim.x / 2; stride > 0; stride /= 2) {
        __syncthreads();
        if (t < stride) partial[t] += partial[t + stride];
    }
    __syncthreads();
    double class_total = partial[0];
    __syncthreads();
    sum = 0.0;
    for (int r = t; r < N; r += blockDim.x) {
        int y = labels[r];
        if (y != ignore_index && y >= 0 && y < C) sum += class_weight[y];
    }
    partial[t] = sum;
    for (int stride = blockDim.x / 2; stride > 0; stride /= 2) {
        __syncthreads();
        if (t < stride) partial[t] += partial[t + stride];
    }
    if (t == 0) {
        totals[0] = static_cast<float>(class_total);
        totals[1] = mean ? static_cast<float>(partial[0]) : 1.0f;
    }
}

// Accumulates in double: the sum of N float losses keeps float precision.
// A mean divides by the count of valid rows, or by weight_totals[1] (Σ w_y) when weight_totals is given.
// The whole block calls it; thread 0 gets the reduced loss (the others 0).
__device__ __forceinline__ float xent_reduce_block(const float* __restrict__ loss, const int* __restrict__ labels, int N, int C,
                                                   int ignore_index, int mean, const float* weight_totals, double* partial,
                                                   int* partial_count) {
    int t = threadIdx.x;
    double sum = 0.0;
    int n = 0;
    for (int r = t; r < N; r += blockDim.x) {
        sum += loss[r];
        n += labels[r] != ignore_index && labels[r] >= 0 && labels[r] < C;
    }
    partial[t] = sum;
    partial_count[t] = n;
    for (int stride = blockDim.x / 2; stride > 0; stride /= 2) {
        __syncthreads();
        if (t < stride) {
            partial[t] += partial[t + stride];
            partial_count[t] += partial_count[t + stride];
        }
    }
    if (t != 0) return 0.0f;
    if (!mean) return static_cast<float>(partial[0]);
    if (weight_totals) {
        double divisor = weight_totals[1];
        return divisor != 0.0 ? static_cast<float>(partial[0] / divisor) : 0.0f;
    }
    return partial_count[0] > 0 ? static_cast<float>(partial[0] / partial_count[0]) : 0.0f;
}

extern "C" __global__ void SHARPMAX_MAX_THREADS(1024) xent_reduce_f32(const float* __restrict__ loss, const int* __restrict__ labels, int N,
                                           int C, int ignore_index, int mean, float* __restrict__ out,
                                           const float* __restrict__ weight_totals) {
    SHARPMAX_SHARED(double, partial, XENT_REDUCE_MAX_THREADS);
    SHARPMAX_SHARED(int, partial_count, XENT_REDUCE_MAX_THREADS);
    float reduced = xent_reduce_block(loss, labels, N, C, ignore_index, mean, weight_totals, partial, partial_count);
    if (threadIdx.x == 0) *out = reduced;
}

// Totals of a sequence of calls, kept on the device so that nothing is read
// back per call (kernels/README.md, "device-side totals"); all zero = reset.
struct xent_totals {
    double loss_sum;                // Σ reduced loss · weight, in call order
    unsigned long long status;      // this call's bad-label report (the row kernel's status), cleared here
    unsigned long long bad_label;   // the status of the first call that had a bad label
    int calls;                      // calls accumulated since the reset
    int bad_label_call;             // that call's index + 1 (0: none)
    int nonfinite_call;             // index + 1 of the first call whose reduced loss is NaN or ±inf (0: none)
    float nonfinite_loss;           // that loss
};

// xent_reduce_f32, then thread 0 folds the call into *totals: the same double
// sum the host would form as Σ (double)loss · weight, in the same order.
extern "C" __global__ void SHARPMAX_MAX_THREADS(1024) xent_reduce_accumulate_f32(const float* __restrict__ loss, const int* __restrict__ labels,
                                                      int N, int C, int ignore_index, int mean, double weight,
                                                      xent_totals* totals, const float* __restrict__ weight_totals) {
    SHARPMAX_SHARED(double, partial, XENT_REDUCE_MAX_THREADS);
    SHARPMAX_SHARED(int, partial_count, XENT_REDUCE_MAX_THREADS);
    float reduced = xent_reduce_block(loss, labels, N, C, ignore_index, mean, weight_totals, partial, partial_count);
    if (threadIdx.x != 0) return;
    int call = totals->calls;
    totals->loss_sum += static_cast<double>(reduced) * weight;
    if (totals->nonfinite_call == 0 && !(reduced - reduced == 0.0f)) {  // NaN or ±inf: x - x is NaN
        totals->nonfinite_call = call + 1;
        totals->nonfinite_loss = reduced;
    }
    if (totals->status != 0) {
        if (totals->bad_label_call == 0) {
            totals->bad_label_call = call + 1;
            totals->bad_label = totals->status;
        }
        totals->status = 0;
    }
    totals->calls = call + 1;
}

SHARPMAX_EXPORT(xent_log_f32, SHARPMAX_NO_SYNC)
SHARPMAX_EXPORT(xent_nll_gather_f32, SHARPMAX_NO_SYNC)
SHARPMAX_EXPORT(xent_backward_f32, SHARPMAX_NO_SYNC)
SHARPMAX_EXPORT(xent_fused_forward_backward_f32_row, SHARPMAX_NO_SYNC)
SHARPMAX_EXPORT(xent_fused_forward_backward_f32_warp32, SHARPMAX_SYNC)
SHARPMAX_EXPORT(xent_fused_forward_backward_f32_warp256, SHARPMAX_SYNC)
SHARPMAX_EXPORT(xent_fused_forward_backward_f32_warp1024, SHARPMAX_SYNC)
SHARPMAX_EXPORT(xent_fused_forward_backward_f32_block, SHARPMAX_SYNC)
SHARPMAX_EXPORT(xent_fused_forward_backward_f32_online, SHARPMAX_SYNC)
SHARPMAX_EXPORT(xent_count_valid_i32, SHARPMAX_SYNC)
SHARPMAX_EXPORT(xent_weight_sum_f32, SHARPMAX_SYNC)
SHARPMAX_EXPORT(xent_reduce_f32, SHARPMAX_SYNC)
SHARPMAX_EXPORT(xent_reduce_accumulate_f32, SHARPMAX_SYNC)
// Static __shared__ bytes and launch bounds, for modules bound without PTX
// (the checked mode compares them with the PTX: kernels/README.md).
SHARPMAX_STATIC_SHARED(xent_fused_forward_backward_f32_block, sizeof(float) * 64)
SHARPMAX_STATIC_SHARED(xent_fused_forward_backward_f32_online, sizeof(float) * 64)
SHARPMAX_STATIC_SHARED(xent_count_valid_i32, sizeof(int) * XENT_REDUCE_MAX_THREADS)
SHARPMAX_STATIC_SHARED(xent_weight_sum_f32, sizeof(double) * XENT_REDUCE_MAX_THREADS)
SHARPMAX_STATIC_SHARED(xent_reduce_f32, (sizeof(double) + sizeof(int)) * XENT_REDUCE_MAX_THREADS)
SHARPMAX_STATIC_SHARED(xent_reduce_accumulate_f32, (sizeof(double) + sizeof(int)) * XENT_REDUCE_MAX_THREADS)
SHARPMAX_LAUNCH_BOUNDS(xent_fused_forward_backward_f32_warp32, 256)
SHARPMAX_LAUNCH_BOUNDS(xent_fused_forward_backward_f32_warp256, 256)
SHARPMAX_LAUNCH_BOUNDS(xent_fused_forward_backward_f32_warp1024, 256)
