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

// log Σ_j exp(x_j - m) from the row's sum split at the label: Σ = e_label + rest, e_label = exp(x_y - m),
// rest = Σ_{j≠y} exp(x_j - m). When the label holds the row max, e_label = exp(0) = 1 exactly and log1p(rest)
// keeps every digit of a small rest, which log(1 + rest) rounds away: the loss of a confident, correct row,
// lse - x_y = log1p(rest), is then accurate to float32 rounding however small (row (30, 0, …, 0): 8.4e-13, not
// 0). Otherwise some other column holds the max, rest >= 1 and the loss is >= log 2: nothing cancels.
// An ignored row passes its whole sum as rest and e_label = 0.
__device__ __forceinline__ float xent_log_sum(float rest, float e_label) {
    return e_label == 1.0f ? log1pf(rest) : logf(rest + e_label);
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

// The gradient of one row with every term:
//   (p_c·pscale - target_c)·scale·(1 - tanh²(x_c/cap) when capped)
// pscale = Σ_c target_c + 2·z·lse: exactly 1 without class weights and z-loss, so that those rows give the bits
// of XentGrad. target_c = `on` at the label and `off` elsewhere, or with class weights
// [c = y]·on + off·w_c (on = (1 - ε)·w_y, off = ε/C).
// label_col >= 0 (set by the xent_grad_terms overload that takes the split sum): the gradient at that column is
// label_d (before the cap's chain factor), computed once per row without the cancellation of p_y - 1.
template <bool CAP>
struct XentGradTerms {
    float scale, off, on, pscale, cap;
    const float* w;
    float label_d = 0.0f;
    int label_col = -1;
    __device__ __forceinline__ float operator()(float p, int c, int label, float x) const {
        return w ? at<true>(p, c, label, x) : at<false>(p, c, label, x);
    }
    // WEIGHTED: w is not null (loops over a row test it once, outside).
    template <bool WEIGHTED>
    __device__ __forceinline__ float at(float p, int c, int label, float x) const {
        float target = WEIGHTED ? (c == label ? on : 0.0f) + off * w[c] : (c == label ? on : off);
        float g = (p * pscale - target) * scale;
        g = c == label_col ? label_d : g;
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

// xent_grad_terms for a row whose Σexp is split at the label (xent_log_sum: rest = Σ_{j≠y} exp(x_j - m),
// e_label = exp(x_y - m)). When the label holds the row max (e_label = 1), p_y = 1/s = 1 - rest/s, and
//   p_y·pscale - target_y = (pscale - target_y) - pscale·rest/s
// with pscale - target_y formed from its parts: ε - ε/C (+ ε/C·(W - w_y) with class weights, for which
// pscale - target_y = ε/C·W - ε/C·w_y) (+ 2·z·lse with z-loss). Without smoothing and z-loss that is
// -rest/s: full relative accuracy where p_y - 1 would cancel to its last few bits (or to 0). Other rows (rest >= 1,
// p_y <= 1/2: nothing cancels) and ignored rows keep the per-column formula (label_col = -1).
template <bool CAP>
__device__ __forceinline__ XentGradTerms<CAP> xent_grad_terms(float grad_scale, const int* valid_count, float smoothing,
                                                              int C, int label, float s, float m, float log_s,
                                                              const XentTerms& t, float e_label, float rest) {
    XentGradTerms<CAP> g = xent_grad_terms<CAP>(grad_scale, valid_count, smoothing, C, label, s, m, log_s, t);
    if (e_label != 1.0f) return g;
    float excess = t.w ? g.off * (t.totals[0] - t.w[label]) : smoothing - g.off;
    if (t.z != 0.0f) excess += 2.0f * t.z * (m + log_s);
    g.label_d = (excess - g.pscale * (rest * safe_reciprocal(s))) * g.scale;
    g.label_col = label;
    return g;
}

// ---- the _row kernel's double row math (the CPU device's kernel) ------------------------------------------------
//
// The CPU device sums a row's exponentials to ~2^-40 (in double, row_exp_sum_of_except_f64, or, in the _row kernel,
// in compensated float pairs, row_exp_sum_except_pairs) and forms the row loss and the gradient's per-row factors
// in double, so that each output is one rounding of a value accurate to ~2^-40 plus the error of its float exp:
// the loss within 1 ulp of the float64 truth and the gradient within 2 (measured: docs/softmax-and-cross-entropy.md,
// "Accuracy"). rest_d, e_label_d as for xent_log_sum; s_d = rest_d + e_label_d.

// xent_log_sum in double on every device (the GPU variants' row scalars; one log per row).
__device__ __forceinline__ double xent_log_sum_double(double rest_d, double e_label_d) {
    return e_label_d == 1.0 ? log1p(rest_d) : log(rest_d + e_label_d);
}

// On CUDA the float logs: the double ones pushed the _row kernel (64 registers at 1024 threads) into spills, and a
// GPU runs _row only when asked to.
__device__ __forceinline__ double xent_log_sum_f64(double rest_d, double e_label_d) {
#if defined(__CUDACC__)
    return xent_log_sum(static_cast<float>(rest_d), static_cast<float>(e_label_d));
#else
    return xent_log_sum_double(rest_d, e_label_d);
#endif
}

// xent_row_loss_terms in double: shifted_sum_d = Σ_j w_j·(x'_j - m) (w_j = 1 without class weights) in double.
__device__ __forceinline__ float xent_row_loss_f64(double s_d, float m, double log_s_d, double x_label_m_d,
                                                   double shifted_sum_d, float smoothing, int C, int label,
                                                   const XentTerms& t, int r) {
    double loss;
    if (s_d == 0.0) {
        loss = -row_neg_inf();  // all -inf: every class impossible
    } else {
        double eps = smoothing, w_y = t.w ? t.w[label] : 1.0, total = t.w ? t.totals[0] : static_cast<double>(C);
        loss = w_y * (log_s_d - x_label_m_d);
        if (smoothing != 0.0f) loss = (1.0 - eps) * loss + eps / C * (total * log_s_d - shifted_sum_d);
    }
    double z_term = 0.0;
    if (t.z != 0.0f) {
        double lse = m + log_s_d;
        z_term = static_cast<double>(t.z) * lse * lse;
        loss += z_term;
    }
    if (t.z_out) t.z_out[r] = static_cast<float>(z_term);
    return static_cast<float>(loss);
}

// The gradient of a row from its exponentials e_c (float, as row_exp_sum_of_except_f64 stored them):
//   grad_c = e_c·k - target_c·scale,  k = pscale·scale / s   (pscale, target: XentGradTerms)
// in double, one rounding. at() is the off-label formula (a loop over the row, free of label tests so that it
// vectorizes); label() is the label's entry: label_g for a confident, correct row (see xent_grad_terms's split
// overload), else the formula. No softcap (its _row path is xent_row_capped_grad).
struct XentGradF64 {
    double k, on_s, off_s;
    const float* w;
    float label_g;
    int label_col;
    template <bool WEIGHTED>
    __device__ __forceinline__ float at(float e, int c) const {
        return static_cast<float>(e * k - (WEIGHTED ? off_s * w[c] : off_s));
    }
    __device__ __forceinline__ float label(float e, int y) const {
        if (label_col >= 0) return label_g;
        return static_cast<float>(e * k - (on_s + (w ? off_s * w[y] : 0.0)));
    }
};

__device__ __forceinline__ XentGradF64 xent_grad_f64(float grad_scale, const int* valid_count, float smoothing, int C,
                                                     int label, double s_d, double rest_d, double e_label_d,
                                                     double lse_d, const XentTerms& t) {
    double eps = smoothing, off = eps / C, scale, on, pscale, excess;
    if (!t.w) {
        scale = valid_count ? (*valid_count > 0 ? static_cast<double>(grad_scale) / *valid_count : 0.0) : grad_scale;
        on = 1.0 - eps + off;
        pscale = 1.0;
        excess = eps - off;  // pscale - on
    } else {
        double divisor = t.totals[1];
        scale = divisor != 0.0 ? grad_scale / divisor : 0.0;
        on = (1.0 - eps) * t.w[label];
        pscale = on + off * t.totals[0];
        excess = off * (static_cast<double>(t.totals[0]) - t.w[label]);  // pscale - on - off·w_y
    }
    if (t.z != 0.0f && s_d != 0.0) {
        pscale += 2.0 * t.z * lse_d;
        excess += 2.0 * t.z * lse_d;
    }
    double inv = s_d == 0.0 ? 0.0 : 1.0 / s_d;
    XentGradF64 g{pscale * scale * inv, on * scale, off * scale, t.w, 0.0f, -1};
    if (e_label_d == 1.0) {
        g.label_g = static_cast<float>((excess - pscale * rest_d * inv) * scale);
        g.label_col = label;
    }
    return g;
}

// The gradient entries of the GPU variants (cross_entropy.cu's _warp*, _block, _online) from the row's double
// factors: e_c·k - off_c·scale (XentGradF64::at) rounded once, e_c = exp(x_c - m) in float. A GPU forms it in float
// arithmetic, k split as k_hi + k_lo and two fmaf (exact to ~2^-40 before the one rounding, no FP64 per entry);
// the host in double (XentGradF64::at itself). The label's entry is formed once per row (label_g).
struct XentGradEntry {
    XentGradF64 g;
    float k_hi, k_lo, off_s;
    float label_g;
    int label_col;
    // WEIGHTED: g.w is not null (a loop over the row tests it once, outside).
    template <bool WEIGHTED>
    __device__ __forceinline__ float at(float e, int c) const {
        if (c == label_col) return label_g;
#if defined(__CUDACC__)
        float off = WEIGHTED ? off_s * g.w[c] : off_s;
        return fmaf(e, k_hi, fmaf(e, k_lo, -off));
#else
        return g.template at<WEIGHTED>(e, c);
#endif
    }
    // The same without the -off_c·scale term (the warp kernels' class-weight pass subtracts it apart).
    __device__ __forceinline__ XentGradEntry without_off() const {
        XentGradEntry plain = *this;
        plain.off_s = 0.0f;
        plain.g.off_s = 0.0;
        return plain;
    }
};

// label: the row's label (used rows only); e_label_d its exp(x_y - m), as the row's sum split it.
__device__ __forceinline__ XentGradEntry xent_grad_entry(const XentGradF64& g, int label, double e_label_d) {
    float k_hi = static_cast<float>(g.k);
    float k_lo = k_hi - k_hi == 0.0f ? static_cast<float>(g.k - k_hi) : 0.0f;
    float label_g = g.label_col >= 0
                        ? g.label_g
                        : static_cast<float>(e_label_d * g.k - (g.on_s + (g.w ? g.off_s * g.w[label] : 0.0)));
    return XentGradEntry{g, k_hi, k_lo, static_cast<float>(g.off_s), label_g, label};
}

// A row's sums for xent_row_f64: the max m, rest = Σ_{c != label} exp(x_c - m) in double (every column when the
// row is not used) and e_label = exp(x_label - m) (0 when not used); gr, when not null, receives exp(x - m).
struct XentRowSums {
    float m;
    double rest, e_label;
};

template <bool CAP>
__device__ __forceinline__ XentRowSums xent_row_sums_f64(const float* xr, float* gr, int C, int label, bool used,
                                                         float cap) {
    auto xt = [=](int c) { return xent_logit<CAP>(xr[c], cap); };
    float m = CAP ? row_max_of(C, xt) : row_max(xr, C);
    // gr holds exp(x - m) until scaled below; the label's term is summed apart (xent_log_sum)
    double rest = row_exp_sum_of_except_f64(C, xt, m, used ? gr : nullptr, used ? label : -1);
    double e_label = used ? row_exp_sub_f64(xt(label), m) : 0.0;
    return {m, rest, e_label};
}

#if !defined(__CUDACC__) && defined(__GNUC__)
// The CPU device's _row kernel's sums (no softcap): those of xent_row_sums_f64, rest summed in compensated float
// pairs (row_exp_sum_except_pairs) instead of doubles; the same values to ~2^-40, not the same bits.
__device__ __forceinline__ XentRowSums xent_row_sums_pairs(const float* xr, float* gr, int C, int label, bool used) {
    float m = row_max(xr, C);
    double rest = row_exp_sum_except_pairs(xr, C, m, used ? gr : nullptr, used ? label : -1);
    double e_label = used ? row_exp_sub_f64(xr[label], m) : 0.0;
    return {m, rest, e_label};
}
#endif

// The rest of xent_row_f64 from the row's sums (train_step.cu's CPU kernel forms the sums of eight rows at once).
// FMA_GRAD (the _row kernel on the host): each off-label gradient entry as the GPU variants form it,
// fmaf(e, k_hi, fmaf(e, k_lo, -off_c)) (XentGradEntry: the same value to ~2^-40 before its one rounding), two fused
// multiply-adds a column instead of conversions to double and back; on a CPU without FMA each is libm's fmaf, slow
// but the same bits.
template <bool CAP, bool FMA_GRAD = false>
__device__ __forceinline__ void xent_row_f64_from(const XentRowSums& sums, const float* xr, float* gr, int r, int C,
                                                  int label, bool used, float smoothing, float* loss, float* lse,
                                                  float grad_scale, const int* valid_count, const XentTerms& t) {
    float cap = t.cap;
    auto xt = [=](int c) { return xent_logit<CAP>(xr[c], cap); };
    const float m = sums.m;
    const double rest = sums.rest, e_label = sums.e_label;
    double s = rest + e_label;
    double log_s = xent_log_sum_f64(rest, e_label);
    if (lse) lse[r] = static_cast<float>(m + log_s);
    if (!used) {
        xent_store_unused_row(loss, t, r);
        if (gr) row_zero(gr, C);
        return;
    }
    double shifted_sum = 0.0;
    if (smoothing != 0.0f) {
        const float* w = t.w;
        if (w)
            shifted_sum = row_sum_f64(C, [=](int c) { return static_cast<double>(w[c]) * (static_cast<double>(xt(c)) - m); });
        else
            shifted_sum = row_sum_f64(C, [=](int c) { return static_cast<double>(xt(c)) - m; });
    }
    loss[r] = xent_row_loss_f64(s, m, log_s, static_cast<double>(xt(label)) - m, shifted_sum, smoothing, C, label, t, r);
    if (!gr) return;
    XentGradF64 g = xent_grad_f64(grad_scale, valid_count, smoothing, C, label, s, rest, e_label, m + log_s, t);
    // Two loops, so that the plain one stays free of the class-weight read (and vectorizes); the label's entry after.
    float e_y = gr[label];
    if (FMA_GRAD) {
        const XentGradEntry entry = xent_grad_entry(g, label, e_label);
        const float k_hi = entry.k_hi, k_lo = entry.k_lo, off = entry.off_s;
        const float* w = g.w;
        if (w)
            for (int c = 0; c < C; ++c) gr[c] = fmaf(gr[c], k_hi, fmaf(gr[c], k_lo, -(off * w[c])));
        else
            for (int c = 0; c < C; ++c) gr[c] = fmaf(gr[c], k_hi, fmaf(gr[c], k_lo, -off));
    } else if (g.w) {
        for (int c = 0; c < C; ++c) gr[c] = g.template at<true>(gr[c], c);
    } else {
        for (int c = 0; c < C; ++c) gr[c] = g.template at<false>(gr[c], c);
    }
    gr[label] = g.label(e_y, label);
}

// One row of the fused cross-entropy with its sums, row loss and gradient factors in double (the CPU device's
// _row kernel; train_step.cu's rows): the loss into loss[r], the lse into lse[r] when lse is not null, the
// gradient into gr (C floats, holding exp(x - m) until scaled) when gr is not null. gr must be null with a
// softcap (its gradient is xent_row_capped_grad's). used: label_in_use's answer for the row.
template <bool CAP>
__device__ __forceinline__ void xent_row_f64(const float* xr, float* gr, int r, int C, int label, bool used,
                                             float smoothing, float* loss, float* lse, float grad_scale,
                                             const int* valid_count, const XentTerms& t) {
    xent_row_f64_from<CAP>(xent_row_sums_f64<CAP>(xr, gr, C, label, used, t.cap), xr, gr, r, C, label, used, smoothing,
                           loss, lse, grad_scale, valid_count, t);
}

#if !defined(__CUDACC__) && defined(__GNUC__)

// Column col of ROW_LANES rows: exp(x - m) as row_exp_sub_f64 gives it, stored (as float) into gr[l][col] and, where
// col is the row's label (skip), kept in e_label; the value summed is 0 there.
template <int GS>
__device__ __forceinline__ row_lanes_f64 xent_lanes_exp_term(row_lanes_f32 x, row_lanes_f32 m, int col,
                                                          row_lanes_i32 skip, float (*gr)[GS], row_lanes_f64& e_label) {
    const row_lanes_f32 d = x - m;  // row_exp_sub_f64
    const row_lanes_f64 e =
        row_exp_hl_f64_of<row_lanes_f32, row_lanes_u32, row_lanes_f64>(d, row_sub_err(x, m, d));
    for (int l = 0; l < ROW_LANES; ++l) gr[l][col] = static_cast<float>(e[l]);
    const row_lanes_i64 is_label = __builtin_convertvector(col == skip, row_lanes_i64);
    e_label = (row_lanes_f64)(((row_lanes_i64)e & is_label) | ((row_lanes_i64)e_label & ~is_label));
    return e * __builtin_convertvector(-(col != skip), row_lanes_f64);
}

// xent_row_sums_f64 (no softcap) of ROW_LANES rows at once, a row per lane: row_max, row_exp_sub_f64 and
// row_sum_f64's order, each operation on the rows' values side by side, so each lane gets the bits its row alone
// would (runtime/tests/row_lanes_tests.cpp checks that at each SIMD level). For a short row (C = 10) one row's sums
// are a chain of dependent steps (the max, ~25 operations of exp, the double sum) over a few values; rows side by
// side fill the vector units instead of waiting on the chain (train_step.cu's CPU kernel). x[c]: column c of the
// rows' logits; gr[l]: row l's exp(x - m) (an unused row's too, which xent_row_f64_from zeroes).
template <int C, int GS>
__device__ __forceinline__ void xent_row_sums_f64_lanes(const row_lanes_f32* x, const int* label, const bool* used,
                                                        float (*gr)[GS], XentRowSums* out) {
    // row_max
    row_lanes_f32 acc[ROW_LANES];
    for (int j = 0; j < ROW_LANES; ++j) acc[j] = ROW_MAX_FLOOR - row_lanes_f32{};
    int c = 0;
    for (; c + ROW_LANES <= C; c += ROW_LANES)
        for (int j = 0; j < ROW_LANES; ++j) acc[j] = x[c + j] > acc[j] ? x[c + j] : acc[j];
    row_lanes_f32 m = acc[0];
    for (; c < C; ++c) m = x[c] > m ? x[c] : m;
    for (int j = 1; j < ROW_LANES; ++j) m = acc[j] > m ? acc[j] : m;
    // row_exp_sum_of_except_f64: the label skipped in a used row, no column in another
    int skipped[ROW_LANES];
    for (int l = 0; l < ROW_LANES; ++l) skipped[l] = used[l] ? label[l] : -1;
    row_lanes_i32 skip;
    std::memcpy(&skip, skipped, sizeof skip);
    row_lanes_f64 e_label = row_lanes_f64{};
    // Always inlined: a lambda is not by default, and an out-of-line copy (baseline x86-64) called from an AVX clone
    // would take its vectors in other registers.
    auto term = [&](int col) __attribute__((always_inline)) {
        return xent_lanes_exp_term(x[col], m, col, skip, gr, e_label);
    };
    // row_sum_f64's lanes and order (its bounds known from C)
    constexpr int lanes = 2 * ROW_LANES, wide = C / lanes * lanes;
    row_lanes_f64 sums[lanes];
    for (int j = 0; j < lanes; ++j) sums[j] = row_lanes_f64{};
    for (c = 0; c < wide; c += lanes)
        for (int j = 0; j < lanes; ++j) sums[j] += term(c + j);
    c = wide;
    if constexpr (wide + ROW_LANES <= C) {
        for (int j = 0; j < ROW_LANES; ++j) sums[j] += term(wide + j);
        c = wide + ROW_LANES;
    }
    for (; c < C; ++c) sums[0] += term(c);
    row_lanes_f64 total = row_lanes_f64{};
    for (int j = 0; j < lanes; ++j) total += sums[j];
    for (int l = 0; l < ROW_LANES; ++l) out[l] = XentRowSums{m[l], total[l], e_label[l]};
}

#endif
