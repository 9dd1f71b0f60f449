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
//    float* grad /*N×C, row stride ldg, or null for the forward only*/, int ldg, unsigned long long* status)
// Launch shapes and the dispatch rule are softmax.cu's.
// Shared by both paths, one block each, fixed summation order (no float atomics):
//   xent_count_valid_i32    *count = number of rows with a label in [0, C) other than ignore_index
//   xent_reduce_f32         *out = Σ loss (sum) or Σ loss / count (mean; 0 when every row is ignored)
//   xent_reduce_accumulate_f32  the same reduction, added (× weight) to device-side totals with the
//                               call's bad-label status and a non-finite loss, so nothing is read per call
//                           blockDim.x a power of two <= 1024 (1 is fine).
#include "rowwise.cuh"

#define XENT_PROB_CLIP 1e-12f

// max(p, lo) that lets NaN through, as np.clip and torch.clamp do (max2(NaN, lo)
// would return lo and turn a NaN row into the finite loss 27.631).
__device__ __forceinline__ float clip_below(float p, float lo) { return p < lo ? lo : p; }

// status holds ~((row << 32) | label) of the smallest bad row, 0 when none:
// atomicMax of the complement keeps the smallest row whatever order rows run
// in, and a zeroed buffer means "no error".
__device__ __forceinline__ void report_bad_label(unsigned long long* status, int row, int label) {
    unsigned long long key =
        ~((static_cast<unsigned long long>(static_cast<unsigned int>(row)) << 32) | static_cast<unsigned int>(label));
#if defined(__CUDACC__)
    atomicMax(status, key);
#else
    unsigned long long old = __atomic_load_n(status, __ATOMIC_RELAXED);
    while (key > old && !__atomic_compare_exchange_n(status, &old, key, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
    }
#endif
}

// True when the row takes part in the loss; reports a bad label.
__device__ __forceinline__ bool label_in_use(int label, int C, int ignore_index, int row, unsigned long long* status,
                                             bool reporter) {
    if (label == ignore_index) return false;
    if (label >= 0 && label < C) return true;
    if (reporter) report_bad_label(status, row, label);
    return false;
}

// loss from the row's pieces, all relative to the row max m:
// log_s = log Σexp(x - m), x_label_m = x[label] - m, shifted_sum = Σ(x - m).
__device__ __forceinline__ float xent_row_loss(float s, float log_s, float x_label_m, float shifted_sum,
                                               float smoothing, int C) {
    if (s == 0.0f) return -row_neg_inf();  // all -inf: every class impossible
    float nll = log_s - x_label_m;
    if (smoothing == 0.0f) return nll;
    return (1.0f - smoothing) * nll + smoothing * (log_s - shifted_sum / static_cast<float>(C));
}

__device__ __forceinline__ float xent_grad_scale(float grad_scale, const int* valid_count) {
    if (!valid_count) return grad_scale;
    int count = *valid_count;
    return count > 0 ? grad_scale / static_cast<float>(count) : 0.0f;
}

// The gradient of one row, (p_c - target_c)·scale, with the target the one-hot
// label smoothed by ε: `on` at the label, `off` = ε/C elsewhere.
struct XentGrad {
    float scale, off, on;
    __device__ __forceinline__ float operator()(float p, int c, int label) const {
        return (p - (c == label ? on : off)) * scale;
    }
};

__device__ __forceinline__ XentGrad xent_grad(float grad_scale, const int* valid_count, float smoothing, int C) {
    float off = smoothing / static_cast<float>(C);
    return XentGrad{xent_grad_scale(grad_scale, valid_count), off, 1.0f - smoothing + off};
}

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

extern "C" __global__ void SHARPMAX_MAX_THREADS(1024) xent_fused_forward_backward_f32_row(const float* __restrict__ x, int N, int C, int ldx,
                                                               const int* __restrict__ labels, int ignore_index,
                                                               float smoothing, float* __restrict__ loss,
                                                               float* __restrict__ lse, float grad_scale,
                                                               const int* __restrict__ valid_count,
                                                               float* __restrict__ grad, int ldg,
                                                               unsigned long long* status) {
    int r = blockIdx.x * blockDim.x + threadIdx.x;
    if (r >= N) return;
    const float* xr = x + static_cast<long long>(r) * ldx;
    float* gr = grad ? grad + static_cast<long long>(r) * ldg : nullptr;
    int label = labels[r];
    bool used = label_in_use(label, C, ignore_index, r, status, true);
    float m = row_max(xr, C);
    float s = row_exp_sum(xr, m, used ? gr : nullptr, C);  // gr holds exp(x - m) until scaled below
    float log_s = logf(s);
    if (lse) lse[r] = m + log_s;
    if (!used) {
        loss[r] = 0.0f;
        if (gr) row_zero(gr, C);
        return;
    }
    float shifted_sum = smoothing != 0.0f ? row_shifted_sum(xr, m, C) : 0.0f;
    loss[r] = xent_row_loss(s, log_s, xr[label] - m, shifted_sum, smoothing, C);
    if (!gr) return;
    XentGrad g = xent_grad(grad_scale, valid_count, smoothing, C);
    float inv = safe_reciprocal(s);
    for (int c = 0; c < C; ++c) gr[c] = g(gr[c] * inv, c, label);
}

// ---- fused: one warp per row, the row in registers ----------------------------

template <int VPT>
__device__ __forceinline__ void xent_warp(const float* x, int N, int C, int ldx, const int* labels, int ignore_index,
                                          float smoothing, float* loss, float* lse, float grad_scale,
                                          const int* valid_count, float* grad, int ldg, unsigned long long* status) {
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
        v[i] = c < C ? xr[c] : row_neg_inf();
        m = max2(v[i], m);
    }
    m = warp_max(m);
    float s = 0.0f, shifted_sum = 0.0f;
    ROW_UNROLL
    for (int i = 0; i < VPT; ++i) {
        if (lane + 32 * i < C) shifted_sum += v[i] - m;
        v[i] = row_exp(v[i] - m);
        s += v[i];
    }
    s = warp_sum(s);
    if (smoothing != 0.0f) shifted_sum = warp_sum(shifted_sum);
    float log_s = logf(s);
    if (lane == 0) {
        if (lse) lse[r] = m + log_s;
        loss[r] = used ? xent_row_loss(s, log_s, xr[label] - m, shifted_sum, smoothing, C) : 0.0f;
    }
    if (!grad) return;
    float* gr = grad + static_cast<long long>(r) * ldg;
    XentGrad g = xent_grad(grad_scale, valid_count, smoothing, C);
    float inv = safe_reciprocal(s);
    ROW_UNROLL
    for (int i = 0; i < VPT; ++i) {
        int c = lane + 32 * i;
        if (c < C) gr[c] = used ? g(v[i] * inv, c, label) : 0.0f;
    }
}

#define XENT_PARAMS                                                                                           \
    const float *x, int N, int C, int ldx, const int *labels, int ignore_index, float smoothing, float *loss, \
        float *lse, float grad_scale, const int *valid_count, float *grad, int ldg, unsigned long long *status
#define XENT_ARGS x, N, C, ldx, labels, ignore_index, smoothing, loss, lse, grad_scale, valid_count, grad, ldg, status

extern "C" __global__ void SHARPMAX_MAX_THREADS(256) xent_fused_forward_backward_f32_warp32(XENT_PARAMS) { xent_warp<1>(XENT_ARGS); }
extern "C" __global__ void SHARPMAX_MAX_THREADS(256) xent_fused_forward_backward_f32_warp256(XENT_PARAMS) { xent_warp<8>(XENT_ARGS); }
extern "C" __global__ void SHARPMAX_MAX_THREADS(256) xent_fused_forward_backward_f32_warp1024(XENT_PARAMS) { xent_warp<32>(XENT_ARGS); }

// ---- fused: one block per row, the row in shared memory -----------------------

extern "C" __global__ void SHARPMAX_MAX_THREADS(1024) xent_fused_forward_backward_f32_block(XENT_PARAMS) {
    SHARPMAX_DYNAMIC_SHARED(float, row);
    SHARPMAX_SHARED(float, scratch, 32);
    int r = blockIdx.x;
    if (r >= N) return;  // whole blocks leave together
    const float* xr = x + static_cast<long long>(r) * ldx;
    int label = labels[r];
    bool used = label_in_use(label, C, ignore_index, r, status, threadIdx.x == 0);
    float m = ROW_MAX_FLOOR;
    for (int c = threadIdx.x; c < C; c += blockDim.x) {
        float v = xr[c];
        row[c] = v;
        m = max2(v, m);
    }
    m = block_max(m, scratch);
    float s = 0.0f, shifted_sum = 0.0f;
    for (int c = threadIdx.x; c < C; c += blockDim.x) {
        float shifted = row[c] - m;
        shifted_sum += shifted;
        float e = row_exp(shifted);
        row[c] = e;
        s += e;
    }
    s = block_sum(s, scratch);
    if (smoothing != 0.0f) shifted_sum = block_sum(shifted_sum, scratch);
    float log_s = logf(s);
    if (threadIdx.x == 0) {
        if (lse) lse[r] = m + log_s;
        loss[r] = used ? xent_row_loss(s, log_s, xr[label] - m, shifted_sum, smoothing, C) : 0.0f;
    }
    if (!grad) return;
    float* gr = grad + static_cast<long long>(r) * ldg;
    XentGrad g = xent_grad(grad_scale, valid_count, smoothing, C);
    float inv = safe_reciprocal(s);
    for (int c = threadIdx.x; c < C; c += blockDim.x)
        gr[c] = used ? g(row[c] * inv, c, label) : 0.0f;
}

// ---- fused: one block per row, streaming (online softmax) ---------------------

// One thread's share of the row, streamed once: online_add's (max, Σexp) and
// Σ(x - max) over the count entries seen so far. When the max moves, the
// earlier shifts move by count·(old - new): a term of the sign of the sum and
// no larger than it, so nothing cancels. (Σx - C·max would: with |x| ~ 1e4 the
// float Σx has already lost the digits of x - max that the loss needs.)
__device__ __forceinline__ void xent_online_add(OnlineMaxSum& acc, float& shifted_sum, int count, float x) {
    if (x > acc.m) {
        if (count > 0) shifted_sum += static_cast<float>(count) * (acc.m - x);
        acc.d = acc.d * row_exp(acc.m - x) + 1.0f;
        acc.m = x;
    } else {
        acc.d += row_exp(x - acc.m);
        shifted_sum += x - acc.m;
    }
}

extern "C" __global__ void SHARPMAX_MAX_THREADS(1024) xent_fused_forward_backward_f32_online(XENT_PARAMS) {
    SHARPMAX_SHARED(float, scratch, 64);
    int r = blockIdx.x;
    if (r >= N) return;
    const float* xr = x + static_cast<long long>(r) * ldx;
    int label = labels[r];
    bool used = label_in_use(label, C, ignore_index, r, status, threadIdx.x == 0);
    OnlineMaxSum acc{ROW_MAX_FLOOR, 0.0f};
    float shifted_sum = 0.0f;  // Σ(x - acc.m) over this thread's entries
    int count = 0;
    for (int c = threadIdx.x; c < C; c += blockDim.x) xent_online_add(acc, shifted_sum, count++, xr[c]);
    float thread_m = acc.m;
    acc = block_online(acc, scratch);
    float m = acc.m, s = acc.d;
    if (smoothing != 0.0f) {
        // Rebase each thread's sum on the row max (same argument as above), then a fixed tree.
        shifted_sum = count > 0 ? shifted_sum + static_cast<float>(count) * (thread_m - m) : 0.0f;
        shifted_sum = block_sum(shifted_sum, scratch);
    }
    float log_s = logf(s);
    if (threadIdx.x == 0) {
        if (lse) lse[r] = m + log_s;
        loss[r] = used ? xent_row_loss(s, log_s, xr[label] - m, shifted_sum, smoothing, C) : 0.0f;
    }
    if (!grad) return;
    float* gr = grad + static_cast<long long>(r) * ldg;
    XentGrad g = xent_grad(grad_scale, valid_count, smoothing, C);
    float inv = safe_reciprocal(s);
    for (int c = threadIdx.x; c < C; c += blockDim.x)
        gr[c] = used ? g(row_exp(xr[c] - m) * inv, c, label) : 0.0f;
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

// Accumulates in double: the sum of N float losses keeps float precision.
// The whole block calls it; thread 0 gets the reduced loss (the others 0).
__device__ __forceinline__ float xent_reduce_block(const float* __restrict__ loss, const int* __restrict__ labels, int N, int C,
                                                   int ignore_index, int mean, double* partial, int* partial_count) {
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
    return partial_count[0] > 0 ? static_cast<float>(partial[0] / partial_count[0]) : 0.0f;
}

extern "C" __global__ void SHARPMAX_MAX_THREADS(1024) xent_reduce_f32(const float* __restrict__ loss, const int* __restrict__ labels, int N,
                                           int C, int ignore_index, int mean, float* __restrict__ out) {
    SHARPMAX_SHARED(double, partial, XENT_REDUCE_MAX_THREADS);
    SHARPMAX_SHARED(int, partial_count, XENT_REDUCE_MAX_THREADS);
    float reduced = xent_reduce_block(loss, labels, N, C, ignore_index, mean, partial, partial_count);
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
                                                      xent_totals* totals) {
    SHARPMAX_SHARED(double, partial, XENT_REDUCE_MAX_THREADS);
    SHARPMAX_SHARED(int, partial_count, XENT_REDUCE_MAX_THREADS);
    float reduced = xent_reduce_block(loss, labels, N, C, ignore_index, mean, partial, partial_count);
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
SHARPMAX_EXPORT(xent_reduce_f32, SHARPMAX_SYNC)
SHARPMAX_EXPORT(xent_reduce_accumulate_f32, SHARPMAX_SYNC)
// Static __shared__ bytes and launch bounds, for modules bound without PTX
// (the checked mode compares them with the PTX: kernels/README.md).
SHARPMAX_STATIC_SHARED(xent_fused_forward_backward_f32_block, sizeof(float) * 32)
SHARPMAX_STATIC_SHARED(xent_fused_forward_backward_f32_online, sizeof(float) * 64)
SHARPMAX_STATIC_SHARED(xent_count_valid_i32, sizeof(int) * XENT_REDUCE_MAX_THREADS)
SHARPMAX_STATIC_SHARED(xent_reduce_f32, (sizeof(double) + sizeof(int)) * XENT_REDUCE_MAX_THREADS)
SHARPMAX_STATIC_SHARED(xent_reduce_accumulate_f32, (sizeof(double) + sizeof(int)) * XENT_REDUCE_MAX_THREADS)
SHARPMAX_LAUNCH_BOUNDS(xent_fused_forward_backward_f32_warp32, 256)
SHARPMAX_LAUNCH_BOUNDS(xent_fused_forward_backward_f32_warp256, 256)
SHARPMAX_LAUNCH_BOUNDS(xent_fused_forward_backward_f32_warp1024, 256)
