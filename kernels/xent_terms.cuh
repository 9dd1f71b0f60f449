// xent_terms.cuh — the cross-entropy row math shared by cross_entropy.cu's fused kernels and
// linear_xent.cu: bad-label reporting, the row loss with every optional term (label smoothing, z-loss,
// softcap, class weights) and the per-logit gradient. Formulas: cross_entropy.cu's header and
// docs/softmax-and-cross-entropy.md.
#pragma once
#include "rowwise.cuh"

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

// ---- the fused kernels' optional terms: z-loss, softcap, class weights --------
//
// The settings past PyTorch's basic ones, the fused kernels' last five arguments:
//   z          z-loss scale (0: off): loss_r += z·lse_r², grad += 2·z·lse_r·p_c·scale (PaLM, Liger)
//   cap        logit softcap (0: off): every logit becomes x' = cap·tanh(x / cap) before anything else
//              (Gemma 2); the gradient gets the chain factor dx'/dx = 1 - (x'/cap)²
//   w          class weights, C floats, or null (PyTorch's `weight`):
//                loss_r = (1 - ε)·w_y·(lse - x_y) + (ε/C)·Σ_j w_j·(lse - x_j)
//                grad_rc = (p_c·((1 - ε)·w_y + ε·W/C) - (1 - ε)·w_y·[c = y] - (ε/C)·w_c)·scale
//              with W = Σ_j w_j = totals[0]; a mean divides by totals[1] = Σ_r w_{y_r}
//   totals     from xent_weight_sum_f32 (required with w): {Σ_j w_j, the gradient's divisor}
//   z_out      per-row z-loss term z·lse_r² (0 for an ignored row), or null
// With z = 0, cap = 0 and w = null every result is bitwise what it is without them.
struct XentTerms {
    float z, cap;
    const float* w;
    const float* totals;
    float* z_out;
};

// The per-logit transform: x itself, or the softcapped x (CAP is the kernel's compile-time switch, so the
// uncapped kernels are the plain loops they were).
template <bool CAP>
__device__ __forceinline__ float xent_logit(float x, float cap) {
    return CAP ? cap * row_tanh(x / cap) : x;
}

// Σ_j w_j·(x_j - m) for label smoothing: the weight of column c (1 without class weights).
__device__ __forceinline__ float xent_class_weight(const float* w, int c) { return w ? w[c] : 1.0f; }

// The row loss with every term: log_s, x_label_m as for xent_row_loss; shifted_sum = Σ_j w_j·(x'_j - m)
// (w_j = 1 without class weights). Also writes the row's z-loss term when asked.
__device__ __forceinline__ float xent_row_loss_terms(float s, float m, float log_s, float x_label_m, float shifted_sum,
                                                     float smoothing, int C, int label, const XentTerms& t, int r) {
    float loss;
    if (!t.w) {
        loss = xent_row_loss(s, log_s, x_label_m, shifted_sum, smoothing, C);
    } else if (s == 0.0f) {
        loss = -row_neg_inf();
    } else {
        float nll = t.w[label] * (log_s - x_label_m);
        loss = smoothing == 0.0f ? nll
                                 : (1.0f - smoothing) * nll +
                                       smoothing / static_cast<float>(C) * (t.totals[0] * log_s - shifted_sum);
    }
    if (t.z != 0.0f) {
        float lse = m + log_s;
        float z_term = t.z * lse * lse;
        loss += z_term;
        if (t.z_out) t.z_out[r] = z_term;
    } else if (t.z_out) {
        t.z_out[r] = 0.0f;
    }
    return loss;
}

// An ignored (or bad-label) row's outputs: loss 0, and z-loss term 0 when asked.
__device__ __forceinline__ void xent_store_unused_row(float* loss, const XentTerms& t, int r) {
    loss[r] = 0.0f;
    if (t.z_out) t.z_out[r] = 0.0f;
}

// What the row's leader thread writes once the row's max m, Σexp s and log s are known: the lse (when asked)
// and the loss with every term, or the ignored row's zeros. xr is the raw row (its label logit is capped here).
template <bool CAP>
__device__ __forceinline__ void xent_store_row(float* loss, float* lse, int r, bool used, float s, float m, float log_s,
                                               const float* xr, int label, float shifted_sum, float smoothing, int C,
                                               const XentTerms& t) {
    if (lse) lse[r] = m + log_s;
    if (used)
        loss[r] = xent_row_loss_terms(s, m, log_s, xent_logit<CAP>(xr[label], t.cap) - m, shifted_sum, smoothing, C, label, t, r);
    else
        xent_store_unused_row(loss, t, r);
}

// The gradient of one row with every term:
//   (p_c·pscale - target_c)·scale·(1 - tanh²(x_c/cap) when capped)
// pscale = Σ_c target_c + 2·z·lse: exactly 1 without class weights and z-loss, so that those rows give the bits
// of XentGrad. target_c = `on` at the label and `off` elsewhere, or with class weights
// [c = y]·on + off·w_c (on = (1 - ε)·w_y, off = ε/C).
template <bool CAP>
struct XentGradTerms {
    float scale, off, on, pscale, cap;
    const float* w;
    __device__ __forceinline__ float operator()(float p, int c, int label, float x) const {
        return w ? at<true>(p, c, label, x) : at<false>(p, c, label, x);
    }
    // WEIGHTED: w is not null (loops over a row test it once, outside).
    template <bool WEIGHTED>
    __device__ __forceinline__ float at(float p, int c, int label, float x) const {
        float target = WEIGHTED ? (c == label ? on : 0.0f) + off * w[c] : (c == label ? on : off);
        float g = (p * pscale - target) * scale;
        if (CAP) {
            float th = row_tanh(x / cap);
            g *= 1.0f - th * th;
        }
        return g;
    }
};

template <bool CAP>
__device__ __forceinline__ XentGradTerms<CAP> xent_grad_terms(float grad_scale, const int* valid_count, float smoothing,
                                                              int C, int label, float s, float m, float log_s,
                                                              const XentTerms& t) {
    float off = smoothing / static_cast<float>(C);
    float scale, on, pscale;
    if (!t.w) {
        scale = xent_grad_scale(grad_scale, valid_count);
        on = 1.0f - smoothing + off;
        pscale = 1.0f;
    } else {
        float divisor = t.totals[1];
        scale = divisor != 0.0f ? grad_scale / divisor : 0.0f;
        on = (1.0f - smoothing) * t.w[label];
        pscale = on + off * t.totals[0];
    }
    // A row of all -inf has p = 0 and lse = -inf: its z-loss adds nothing to the gradient (not 0·inf = NaN).
    if (t.z != 0.0f && s != 0.0f) pscale += 2.0f * t.z * (m + log_s);
    return XentGradTerms<CAP>{scale, off, on, pscale, t.cap, t.w};
}
