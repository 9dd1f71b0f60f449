// linear_xent.cu — fused linear + cross-entropy: the loss of the logits X = H·W + b against int32 labels, and
// its gradients dH, dW, db, without ever holding the N×C logits.
//
// Shapes: H[N×K] (row stride ldh); W is K×C (layout 0, W(k, c) = W[k·ldw + c], as linear.cu's) or C×K
// (layout 1, W(k, c) = W[c·ldw + k], as a language model's head and torch.nn.Linear store it); b[C] or null;
// labels[N]. dW has W's layout (row stride lddw), dH is N×K (row stride lddh). The cross-entropy terms are
// cross_entropy.cu's (xent_terms.cuh): ignore_index, label smoothing, z-loss, softcap, class weights.
//
// How no N×C buffer is needed: the logits are made a tile at a time (rows × LX classes) in on-chip memory
// (shared memory in _block; an L2-sized workspace per block in _simd), and
//   linear_xent_forward_f32_*          one pass over row tiles: each row's max and Σexp merge across class
//                                      tiles by the online-softmax rule; writes loss, the optional lse and
//                                      z-loss term, and stats = {m_r} ∪ {s_r} ∪ {rest_r} (3N floats: the row
//                                      max, Σexp(x - m), what the backward needs to rebuild p exactly, and
//                                      rest = Σ_{j≠y} exp(x_j - m) when the label holds the max, else -1)
//   linear_xent_backward_input_f32_*   over row tiles: each class tile's logits are recomputed, turned into
//                                      the gradient tile G (cross_entropy.cu's formula) and dH += G·Wᵀ
//   linear_xent_forward_input_grad_f32_simd  the forward and dH in one pass, no logit recomputed (see
//                                      lx_forward_input_grad): what the CPU device runs when dH is asked for
//   linear_xent_backward_weight_f32_*  over class tiles: the logits of each row tile are recomputed, into G,
//                                      and dW += Hᵀ·G, db += Σ_rows G (db may be null)
// Each output has one owner (a row tile owns its rows of dH, a class tile its columns of dW and db), which
// sums in a fixed order (classes, resp. rows, in sequence), so results are bitwise the same run to run and
// whatever the grid; no float atomics. The recomputed logits are bitwise those of the forward (the same code
// and order), so p sums to the forward's s. Cost: the backward recomputes the logits twice (5 products
// where the unfused chain does 3; 4 with the _simd forward that makes dH).
// Confident, correct rows keep their tiny loss and gradient, as in cross_entropy.cu: the label's exponential
// is kept out of the running sum (rest), so when the label holds the max the loss is log1p(rest) and the label's
// gradient -rest/s (xent_log_sum, the split xent_grad_terms), not lse - x_y and p_y - 1, which cancel.
//
// Variants:
//   _block  a block of threads per tile, operands read in place, tiles in static shared memory: the GPU's
//           (barriers; the CPU device runs it with fibers, which is how the tests check it)
//   _simd   CPU device only (not in the PTX): one thread per block, W's tile packed into the workspace once
//           per row tile (forward, dH) or once per class tile (dW), products in 6 × 16 register blocks
// Launch: any grid (each block takes tiles blockIdx.x, +gridDim.x, ...); _block: blockDim.x = LX_THREADS;
// _simd: blockDim.x = 1 and workspace = gridDim.x × LX_SIMD_WORKSPACE_FLOATS(K) floats (null for _block).
// Arguments, in order:
//   (const float* H, int N, int K, int ldh, const float* W, int layout, int ldw, int C, const float* bias,
//    const int* labels, int ignore_index, float smoothing,
//    forward:         float* loss, float* lse /*or null*/, float* stats /*3N*/, unsigned long long* status,
//    backward_input:  const float* stats, float grad_scale, const int* valid_count, float* dH, int lddh,
//    forward_input_grad: the forward's four, then backward_input's grad_scale, valid_count, dH, lddh,
//    backward_weight: const float* stats, float grad_scale, const int* valid_count, float* dW, int lddw,
//                     float* db /*or null*/ (dW may be null too: db alone),
//    float z_loss_scale, float softcap, const float* class_weight, const float* weight_totals,
//    forward, forward_input_grad: float* z_loss /*or null*/,
//    float* workspace)
// grad_scale, valid_count and weight_totals mean what they mean for the fused cross-entropy kernels.
#include "xent_terms.cuh"

#if !defined(__CUDACC__) && defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wpsabi"  // vectors are passed only between force-inlined functions
#endif

#define LX_CLASSES 64          // classes per tile, both variants
#define LX_BLOCK_ROWS 32       // _block: rows per tile
#define LX_THREADS 256         // _block: threads per block
#define LX_SIMD_ROWS 96        // _simd: rows per tile of the forward and dH passes (16 register blocks of 6; 48 streamed W
                               // from memory twice as often: the forward 20-40 % slower)
#define LX_SIMD_WEIGHT_ROWS 192  // _simd: rows per tile of the dW pass (longer sums per register block)
#define LX_PAD16(k) (((k) + 15) / 16 * 16)
// _simd: the row stride of the packed tiles of K values (Wᵀ's and H's), K padded to 16 floats and then to an odd
// count of cache lines: a product walking down 4 KiB-apart rows (K = 1024) read them all through one set of the
// L1 cache, and the dH pass ran at less than half the dW pass's rate.
#define LX_ROW_FLOATS(k) (LX_PAD16(k) / 16 % 2 == 0 ? LX_PAD16(k) + 16 : LX_PAD16(k))
// Per block: W's tile both ways (K × 64 and 64 × Kp), the bias tile, H's tile (dW of layout 1) and the tile.
#define LX_SIMD_WORKSPACE_FLOATS(K) \
    (2LL * LX_CLASSES * LX_ROW_FLOATS(K) + LX_CLASSES + (long long)LX_SIMD_WEIGHT_ROWS * (LX_ROW_FLOATS(K) + LX_CLASSES))

namespace {

struct Weight {
    const float* w;
    int layout, ld;
    __device__ __forceinline__ float at(int k, int c) const {
        return layout == 0 ? w[static_cast<long long>(k) * ld + c] : w[static_cast<long long>(c) * ld + k];
    }
};

// What every pass reads.
struct LxProblem {
    const float* H;
    int N, K, ldh;
    Weight W;
    int C;
    const float* bias;
    const int* labels;
    int ignore_index;
    float smoothing;
    XentTerms t;
};

// ---- the row math, shared by both variants --------------------------------------------------------------

// A row's running state over the class tiles seen so far: max m (from -FLT_MAX, see rowwise.cuh), rest =
// Σ_{j≠y} exp(x_j - m) (every column for an unused row), Σ w·(x - m) for label smoothing over `seen` weight, and
// the label's (capped) logit. rest chains the class tiles in double (C/64 adds: C = 262144 would chain 4096
// float adds), each tile's sum formed in float lanes (lx_row_merge).
struct LxRow {
    double rest;
    float m, shifted, seen, x_label;
};

__device__ __forceinline__ LxRow lx_row_start() { return LxRow{0.0, ROW_MAX_FLOOR, 0.0f, 0.0f, 0.0f}; }

// Merges one tile row x[0..cn) (classes c0..) into the state, online-softmax style: a larger max rescales the
// sum and rebases the shifted sum by seen·(old - new), as cross_entropy.cu's _online does (nothing cancels).
// label: the row's label when it is in use, else -1 (its exponential stays out of rest).
__device__ __forceinline__ void lx_row_merge(LxRow& row, const float* x, int c0, int cn, int label, float smoothing,
                                             const float* w) {
    float tm = ROW_MAX_FLOOR;
    for (int j = 0; j < cn; ++j) tm = max2(x[j], tm);
    if (tm > row.m) {
        row.rest *= static_cast<double>(row_exp(row.m - tm));
        if (row.seen > 0.0f) row.shifted += row.seen * (row.m - tm);
        row.m = tm;
    }
    // ROW_LANES (8) lanes, then a fixed tree: a float sum of 64 terms in sequence drifts by several ulp (13
    // measured at C = 1000 with the tiles chained in float); the forward takes no longer than with one sum
    float lane[ROW_LANES] = {};
    for (int j0 = 0; j0 < cn; j0 += ROW_LANES) {
        ROW_UNROLL
        for (int l = 0; l < ROW_LANES; ++l) {
            const int j = j0 + l;
            if (j < cn && c0 + j != label) lane[l] += row_exp(x[j] - row.m);
        }
    }
    const float s = ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
    row.rest += static_cast<double>(s);
    if (smoothing != 0.0f)
        for (int j = 0; j < cn; ++j) {
            const float wj = xent_class_weight(w, c0 + j);
            row.shifted += wj * (x[j] - row.m);
            row.seen += wj;
        }
    if (label >= c0 && label < c0 + cn) row.x_label = x[label - c0];
}

// The label a row's sums split at: its label when in use, else -1.
__device__ __forceinline__ int lx_split_label(const LxProblem& p, int r) {
    const int label = p.labels[r];
    return label_in_use(label, p.C, p.ignore_index, r, nullptr, false) ? label : -1;
}

// The row's results once every class tile is merged: s = rest + e_label, log s by xent_log_sum (log1p(rest) when
// the label holds the max, e_label = 1).
__device__ __forceinline__ void lx_row_finish(const LxProblem& p, const LxRow& row, int r, unsigned long long* status,
                                              float* loss, float* lse, float* stats) {
    const int label = p.labels[r];
    const bool used = label_in_use(label, p.C, p.ignore_index, r, status, true);
    const float e_label = used ? row_exp(row.x_label - row.m) : 0.0f;
    const float rest = static_cast<float>(row.rest), s = static_cast<float>(row.rest + e_label);
    const float log_s = xent_log_sum(rest, e_label);
    if (lse) lse[r] = row.m + log_s;
    stats[r] = row.m;
    stats[p.N + r] = s;
    stats[2 * p.N + r] = e_label == 1.0f ? rest : -1.0f;
    if (used)
        loss[r] = xent_row_loss_terms(s, row.m, log_s, row.x_label - row.m, row.shifted, p.smoothing, p.C, label, p.t, r);
    else
        xent_store_unused_row(loss, p.t, r);
}

// Turns a tile row of raw logits x[0..cn) (classes c0..) of row r into its gradient, in place: cross_entropy.cu's
// (p·pscale - target)·scale (× the softcap's chain factor), p rebuilt from the forward's m and s.
template <bool CAP>
__device__ __forceinline__ void lx_row_grad(const LxProblem& p, float* x, int r, int c0, int cn, const float* stats,
                                            float grad_scale, const int* valid_count) {
    const int label = p.labels[r];
    if (!label_in_use(label, p.C, p.ignore_index, r, nullptr, false)) {
        for (int j = 0; j < cn; ++j) x[j] = 0.0f;
        return;
    }
    // rest >= 0: the label holds the max, its gradient is formed from rest (the split xent_grad_terms)
    const float m = stats[r], s = stats[p.N + r], rest = stats[2 * p.N + r];
    const float e_label = rest >= 0.0f ? 1.0f : 0.0f;
    const XentGradTerms<CAP> g = xent_grad_terms<CAP>(grad_scale, valid_count, p.smoothing, p.C, label, s, m,
                                                      rest >= 0.0f ? log1pf(rest) : logf(s), p.t, e_label, rest);
    const float inv = safe_reciprocal(s);
    for (int j = 0; j < cn; ++j) {
        const float raw = x[j];
        x[j] = g(row_exp(xent_logit<CAP>(raw, p.t.cap) - m) * inv, c0 + j, label, raw);
    }
}

// ---- _block: a block of threads per tile, operands read in place ----------------------------------------

struct BlockTeam {
    static constexpr int rows = LX_BLOCK_ROWS;
    static constexpr int weight_rows = LX_BLOCK_ROWS;
    float* tile;    // [rows][LX_CLASSES], shared
    float* db_acc;  // [LX_CLASSES], shared
    __device__ __forceinline__ int tid() const { return threadIdx.x; }
    __device__ __forceinline__ int size() const { return blockDim.x; }
    __device__ __forceinline__ void sync() const { __syncthreads(); }
    __device__ __forceinline__ void prepare_classes(const LxProblem&, int, int, bool) {}

    // tile[i][j] = Σ_k H(r0 + i, k)·W(k, c0 + j) + b, k in order (0 outside rn × cn).
    __device__ __forceinline__ void logits(const LxProblem& p, int r0, int rn, int c0, int cn) {
        for (int idx = tid(); idx < rows * LX_CLASSES; idx += size()) {
            const int i = idx / LX_CLASSES, j = idx % LX_CLASSES;
            float v = 0.0f;
            if (i < rn && j < cn) {
                const float* h = p.H + static_cast<long long>(r0 + i) * p.ldh;
                float acc = 0.0f;
                for (int k = 0; k < p.K; ++k) acc = fmaf(h[k], p.W.at(k, c0 + j), acc);
                v = acc + (p.bias ? p.bias[c0 + j] : 0.0f);
            }
            tile[idx] = v;
        }
    }

    // dH(r0 + i, k) += Σ_j G[i][j]·W(k, c0 + j), j in order; the first class tile starts from 0.
    __device__ __forceinline__ void add_input_grad(const LxProblem& p, int r0, int rn, int c0, int cn, float* dH,
                                                   int lddh) {
        for (long long idx = tid(); idx < static_cast<long long>(rn) * p.K; idx += size()) {
            const int i = static_cast<int>(idx / p.K), k = static_cast<int>(idx % p.K);
            float* out = dH + static_cast<long long>(r0 + i) * lddh + k;
            const float* g = tile + i * LX_CLASSES;
            float acc = c0 == 0 ? 0.0f : *out;
            for (int j = 0; j < cn; ++j) acc = fmaf(g[j], p.W.at(k, c0 + j), acc);
            *out = acc;
        }
    }

    // dW(k, c0 + j) += Σ_i H(r0 + i, k)·G[i][j], rows in order; the first row tile starts from 0.
    __device__ __forceinline__ void add_weight_grad(const LxProblem& p, int r0, int rn, int c0, int cn, float* dW,
                                                    int lddw) {
        for (long long idx = tid(); idx < static_cast<long long>(p.K) * cn; idx += size()) {
            const int k = static_cast<int>(idx / cn), j = static_cast<int>(idx % cn);
            float* out = p.W.layout == 0 ? dW + static_cast<long long>(k) * lddw + c0 + j
                                         : dW + static_cast<long long>(c0 + j) * lddw + k;
            float acc = r0 == 0 ? 0.0f : *out;
            for (int i = 0; i < rn; ++i)
                acc = fmaf(p.H[static_cast<long long>(r0 + i) * p.ldh + k], tile[i * LX_CLASSES + j], acc);
            *out = acc;
        }
    }
};

// ---- the three passes, written once for both variants ---------------------------------------------------

template <bool CAP, class Team>
__device__ __forceinline__ void lx_forward(Team& team, const LxProblem& p, LxRow* rows, float* loss, float* lse,
                                           float* stats, unsigned long long* status) {
    const int tiles = (p.N + Team::rows - 1) / Team::rows;
    for (int tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
        const int r0 = tile * Team::rows, rn = min(Team::rows, p.N - r0);
        for (int i = team.tid(); i < rn; i += team.size()) rows[i] = lx_row_start();
        for (int c0 = 0; c0 < p.C; c0 += LX_CLASSES) {
            const int cn = min(LX_CLASSES, p.C - c0);
            team.sync();  // the last tile's readers are done
            team.prepare_classes(p, c0, cn, false);
            team.sync();
            team.logits(p, r0, rn, c0, cn);
            team.sync();
            for (int i = team.tid(); i < rn; i += team.size()) {
                float* x = team.tile + i * LX_CLASSES;
                if (CAP)
                    for (int j = 0; j < cn; ++j) x[j] = xent_logit<true>(x[j], p.t.cap);
                lx_row_merge(rows[i], x, c0, cn, lx_split_label(p, r0 + i), p.smoothing, p.t.w);
            }
        }
        for (int i = team.tid(); i < rn; i += team.size()) lx_row_finish(p, rows[i], r0 + i, status, loss, lse, stats);
        team.sync();
    }
}

template <bool CAP, class Team>
__device__ __forceinline__ void lx_backward_input(Team& team, const LxProblem& p, const float* stats, float grad_scale,
                                                  const int* valid_count, float* dH, int lddh) {
    const int tiles = (p.N + Team::rows - 1) / Team::rows;
    for (int tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
        const int r0 = tile * Team::rows, rn = min(Team::rows, p.N - r0);
        for (int c0 = 0; c0 < p.C; c0 += LX_CLASSES) {
            const int cn = min(LX_CLASSES, p.C - c0);
            team.sync();
            team.prepare_classes(p, c0, cn, true);
            team.sync();
            team.logits(p, r0, rn, c0, cn);
            team.sync();
            for (int i = team.tid(); i < rn; i += team.size())
                lx_row_grad<CAP>(p, team.tile + i * LX_CLASSES, r0 + i, c0, cn, stats, grad_scale, valid_count);
            team.sync();
            team.add_input_grad(p, r0, rn, c0, cn, dH, lddh);
        }
        team.sync();
    }
}

template <bool CAP, class Team>
__device__ __forceinline__ void lx_backward_weight(Team& team, const LxProblem& p, const float* stats,
                                                   float grad_scale, const int* valid_count, float* dW, int lddw,
                                                   float* db) {
    const int tiles = (p.C + LX_CLASSES - 1) / LX_CLASSES;
    for (int tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
        const int c0 = tile * LX_CLASSES, cn = min(LX_CLASSES, p.C - c0);
        team.sync();
        team.prepare_classes(p, c0, cn, false);
        for (int j = team.tid(); j < LX_CLASSES; j += team.size()) team.db_acc[j] = 0.0f;
        for (int r0 = 0; r0 < p.N; r0 += Team::weight_rows) {
            const int rn = min(Team::weight_rows, p.N - r0);
            team.sync();
            team.logits(p, r0, rn, c0, cn);
            team.sync();
            for (int i = team.tid(); i < rn; i += team.size())
                lx_row_grad<CAP>(p, team.tile + i * LX_CLASSES, r0 + i, c0, cn, stats, grad_scale, valid_count);
            team.sync();
            if (dW) team.add_weight_grad(p, r0, rn, c0, cn, dW, lddw);
            for (int j = team.tid(); j < cn; j += team.size())
                for (int i = 0; i < rn; ++i) team.db_acc[j] += team.tile[i * LX_CLASSES + j];
        }
        if (p.N == 0 && dW)  // no rows: the sums are empty, dW's columns are zeros
            for (long long idx = team.tid(); idx < static_cast<long long>(p.K) * cn; idx += team.size()) {
                const int k = static_cast<int>(idx / cn), j = static_cast<int>(idx % cn);
                dW[p.W.layout == 0 ? static_cast<long long>(k) * lddw + c0 + j : static_cast<long long>(c0 + j) * lddw + k] = 0.0f;
            }
        if (db)
            for (int j = team.tid(); j < cn; j += team.size()) db[c0 + j] = team.db_acc[j];
    }
}

}  // namespace

#define LX_COMMON_PARAMS                                                                                       \
    const float *H, int N, int K, int ldh, const float *W, int layout, int ldw, int C, const float *bias,      \
        const int *labels, int ignore_index, float smoothing
#define LX_TERM_PARAMS float z_loss_scale, float softcap, const float *class_weight, const float *weight_totals
#define LX_PROBLEM(z_out)                                                                                      \
    LxProblem {                                                                                                \
        H, N, K, ldh, Weight{W, layout, ldw}, C, bias, labels, ignore_index, smoothing,                         \
            XentTerms{z_loss_scale, softcap, class_weight, weight_totals, z_out}                               \
    }
// softcap = 0 runs the plain loops, as cross_entropy.cu's XENT_DISPATCH.
#define LX_DISPATCH(call) \
    if (softcap != 0.0f)  \
        call<true> LX_CALL_ARGS; \
    else                  \
        call<false> LX_CALL_ARGS

extern "C" __global__ void SHARPMAX_MAX_THREADS(LX_THREADS)
    linear_xent_forward_f32_block(LX_COMMON_PARAMS, float* loss, float* lse, float* stats, unsigned long long* status,
                                  LX_TERM_PARAMS, float* z_loss, float* workspace) {
    SHARPMAX_SHARED(float, tile, LX_BLOCK_ROWS * LX_CLASSES);
    SHARPMAX_SHARED(LxRow, rows, LX_BLOCK_ROWS);
    (void)workspace;
    BlockTeam team{tile, nullptr};
    const LxProblem p = LX_PROBLEM(z_loss);
#define LX_CALL_ARGS (team, p, rows, loss, lse, stats, status)
    LX_DISPATCH(lx_forward);
#undef LX_CALL_ARGS
}

extern "C" __global__ void SHARPMAX_MAX_THREADS(LX_THREADS)
    linear_xent_backward_input_f32_block(LX_COMMON_PARAMS, const float* stats, float grad_scale,
                                         const int* valid_count, float* dH, int lddh, LX_TERM_PARAMS,
                                         float* workspace) {
    SHARPMAX_SHARED(float, tile, LX_BLOCK_ROWS * LX_CLASSES);
    (void)workspace;
    BlockTeam team{tile, nullptr};
    const LxProblem p = LX_PROBLEM(nullptr);
#define LX_CALL_ARGS (team, p, stats, grad_scale, valid_count, dH, lddh)
    LX_DISPATCH(lx_backward_input);
#undef LX_CALL_ARGS
}

extern "C" __global__ void SHARPMAX_MAX_THREADS(LX_THREADS)
    linear_xent_backward_weight_f32_block(LX_COMMON_PARAMS, const float* stats, float grad_scale,
                                          const int* valid_count, float* dW, int lddw, float* db, LX_TERM_PARAMS,
                                          float* workspace) {
    SHARPMAX_SHARED(float, tile, LX_BLOCK_ROWS * LX_CLASSES);
    SHARPMAX_SHARED(float, db_acc, LX_CLASSES);
    (void)workspace;
    BlockTeam team{tile, db_acc};
    const LxProblem p = LX_PROBLEM(nullptr);
#define LX_CALL_ARGS (team, p, stats, grad_scale, valid_count, dW, lddw, db)
    LX_DISPATCH(lx_backward_weight);
#undef LX_CALL_ARGS
}

// ---- _simd: the CPU device's (host only, not in the PTX) -------------------------------------------------
#if !defined(__CUDACC__)

#if defined(__x86_64__) && defined(__ELF__) && (defined(__GNUC__) || defined(__clang__))
#define LX_SIMD_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define LX_SIMD_CLONES
#endif

#if defined(__GNUC__) || defined(__clang__)
typedef float LxLanes __attribute__((vector_size(32)));  // 8 floats: a ymm register with AVX2 or AVX-512
#define LX_LANES 8
#else
struct LxLanes {  // portable fallback: the same sums, lane by lane
    float v[8];
    LxLanes& operator+=(const LxLanes& o) {
        for (int i = 0; i < 8; ++i) v[i] += o.v[i];
        return *this;
    }
};
inline LxLanes operator*(float a, const LxLanes& b) {
    LxLanes r;
    for (int i = 0; i < 8; ++i) r.v[i] = a * b.v[i];
    return r;
}
#define LX_LANES 8
#endif

// The one register block every _simd product goes through (so that a logit recomputed by a later pass is the
// forward's, bit for bit): for i < rows, out[i][off .. off + width) = (accumulate ? itself : 0)
//   + Σ_{p < P} a[i][p·a_step] · b[p·b_step + 0 .. 15], p in order, then + bias[0 .. 15] when bias is not null.
// b must have 16 readable floats per p; a[i] and out[i] must be valid pointers for all 6 (repeat a row).
// Not inlined, so all three kernels run the same machine code (one clone per process).
extern "C" LX_SIMD_CLONES __attribute__((noinline)) void sharpmax_lx_gemm_6x16(
    const float* const* a, long long a_step, const float* b, long long b_step, int P, float* const* out, int off,
    int rows, int width, bool accumulate, const float* bias) {
    LxLanes acc[6][2];
    for (int i = 0; i < 6; ++i) {
        float start[16] = {};
        if (accumulate && i < rows) __builtin_memcpy(start, out[i] + off, sizeof(float) * width);
        __builtin_memcpy(&acc[i][0], start, sizeof acc[i][0]);
        __builtin_memcpy(&acc[i][1], start + LX_LANES, sizeof acc[i][1]);
    }
    for (int p = 0; p < P; ++p) {
        LxLanes b0, b1;
        const float* bp = b + p * b_step;
        __builtin_memcpy(&b0, bp, sizeof b0);
        __builtin_memcpy(&b1, bp + LX_LANES, sizeof b1);
        for (int i = 0; i < 6; ++i) {
            const float av = a[i][p * a_step];
            acc[i][0] += av * b0;
            acc[i][1] += av * b1;
        }
    }
    for (int i = 0; i < rows; ++i) {
        float sums[16];
        __builtin_memcpy(sums, &acc[i][0], sizeof acc[i][0]);
        __builtin_memcpy(sums + LX_LANES, &acc[i][1], sizeof acc[i][1]);
        if (bias)
            for (int j = 0; j < 16; ++j) sums[j] += bias[j];
        __builtin_memcpy(out[i] + off, sums, sizeof(float) * width);
    }
}

namespace {

struct SimdTeam {
    static constexpr int rows = LX_SIMD_ROWS;
    static constexpr int weight_rows = LX_SIMD_WEIGHT_ROWS;
    int Kp;
    float* wk;         // W's class tile as K rows of 64 classes (zeros past C)
    float* wt;         // the same tile as 64 rows of Kp values of k (zeros past C and K)
    float* bias_tile;  // 64 floats: b's tile, zeros past C (all zeros without bias)
    float* hpack;      // H's row tile, weight_rows × Kp (dW of layout 1: B operand rows with 16 readable floats)
    float* tile;       // the logits / gradient tile, weight_rows × 64
    float db_acc[LX_CLASSES];
    __device__ __forceinline__ int tid() const { return 0; }
    __device__ __forceinline__ int size() const { return 1; }
    __device__ __forceinline__ void sync() const {}

    __device__ __forceinline__ SimdTeam(float* workspace, int K) : Kp(LX_ROW_FLOATS(K)), db_acc() {
        float* ws = workspace + static_cast<long long>(blockIdx.x) * LX_SIMD_WORKSPACE_FLOATS(K);
        wk = ws;
        wt = wk + static_cast<long long>(LX_CLASSES) * Kp;
        bias_tile = wt + static_cast<long long>(LX_CLASSES) * Kp;
        hpack = bias_tile + LX_CLASSES;
        tile = hpack + static_cast<long long>(weight_rows) * Kp;
    }

    // Packs W's classes c0 .. c0 + cn into wk (and wt when asked), reading W along its rows.
    __device__ __forceinline__ void prepare_classes(const LxProblem& p, int c0, int cn, bool transposed) {
        const int K = p.K;
        for (int j = 0; j < LX_CLASSES; ++j) bias_tile[j] = j < cn && p.bias ? p.bias[c0 + j] : 0.0f;
        if (p.W.layout == 0) {
            for (int k = 0; k < K; ++k) {
                const float* src = p.W.w + static_cast<long long>(k) * p.W.ld + c0;
                float* dst = wk + static_cast<long long>(k) * LX_CLASSES;
                for (int j = 0; j < LX_CLASSES; ++j) dst[j] = j < cn ? src[j] : 0.0f;
            }
            if (transposed)
                for (int j = 0; j < LX_CLASSES; ++j)
                    for (int k = 0; k < Kp; ++k)
                        wt[static_cast<long long>(j) * Kp + k] = j < cn && k < K ? wk[static_cast<long long>(k) * LX_CLASSES + j] : 0.0f;
        } else {
            for (int j = 0; j < LX_CLASSES; ++j) {
                const float* src = p.W.w + static_cast<long long>(c0 + (j < cn ? j : 0)) * p.W.ld;
                float* dst = wt + static_cast<long long>(j) * Kp;
                for (int k = 0; k < Kp; ++k) dst[k] = j < cn && k < K ? src[k] : 0.0f;
            }
            for (int k = 0; k < K; ++k)
                for (int j = 0; j < LX_CLASSES; ++j)
                    wk[static_cast<long long>(k) * LX_CLASSES + j] = wt[static_cast<long long>(j) * Kp + k];
        }
    }

    __device__ __forceinline__ void logits(const LxProblem& p, int r0, int rn, int, int cn) {
        for (int i0 = 0; i0 < rn; i0 += 6) {
            const float* a[6];
            float* out[6];
            for (int i = 0; i < 6; ++i) {
                a[i] = p.H + static_cast<long long>(min(r0 + i0 + i, p.N - 1)) * p.ldh;
                out[i] = tile + (i0 + i) * LX_CLASSES;
            }
            for (int j0 = 0; j0 < cn; j0 += 16)
                sharpmax_lx_gemm_6x16(a, 1, wk + j0, LX_CLASSES, p.K, out, j0, 6, 16, false, bias_tile + j0);
        }
    }

    __device__ __forceinline__ void add_input_grad(const LxProblem& p, int r0, int rn, int c0, int cn, float* dH,
                                                   int lddh) {
        add_times_wt(tile, rn, cn, dH + static_cast<long long>(r0) * lddh, lddh, c0 > 0, p.K);
    }

    // out[i][0 .. K) = (accumulate ? itself : 0) + Σ_j g[i][j]·Wᵀ[j][0 .. K), j < cn in order, for i < rn (g: rows
    // of LX_CLASSES floats). k outer: the 64 × 16 slice of Wᵀ stays in L1 while every register block of rows uses it.
    __device__ __forceinline__ void add_times_wt(const float* g, int rn, int cn, float* out_rows, long long ld,
                                                 bool accumulate, int K) {
        for (int k0 = 0; k0 < K; k0 += 16)
            for (int i0 = 0; i0 < rn; i0 += 6) {
                const int nrows = min(6, rn - i0);
                const float* a[6];
                float* out[6];
                for (int i = 0; i < 6; ++i) {
                    const int ii = i0 + min(i, nrows - 1);
                    a[i] = g + ii * LX_CLASSES;
                    out[i] = out_rows + ii * ld;
                }
                sharpmax_lx_gemm_6x16(a, 1, wt + k0, Kp, cn, out, k0, nrows, min(16, K - k0), accumulate, nullptr);
            }
    }

    __device__ __forceinline__ void add_weight_grad(const LxProblem& p, int r0, int rn, int c0, int cn, float* dW,
                                                    int lddw) {
        const int K = p.K;
        const bool accumulate = r0 > 0;
        if (p.W.layout == 0) {
            // dW[k][c0 + j]: A = Hᵀ (a broadcast of H(r, k) per row r), B = the gradient tile's rows.
            for (int k0 = 0; k0 < K; k0 += 6) {
                const int nrows = min(6, K - k0);
                const float* a[6];
                float* out[6];
                for (int i = 0; i < 6; ++i) {
                    const int k = k0 + min(i, nrows - 1);
                    a[i] = p.H + static_cast<long long>(r0) * p.ldh + k;
                    out[i] = dW + static_cast<long long>(k) * lddw + c0;
                }
                for (int j0 = 0; j0 < cn; j0 += 16)
                    sharpmax_lx_gemm_6x16(a, p.ldh, tile + j0, LX_CLASSES, rn, out, j0, nrows, min(16, cn - j0),
                                          accumulate, nullptr);
            }
            return;
        }
        // dW[c0 + j][k]: A = the gradient tile's columns, B = H's rows, packed with 16 readable floats past K.
        for (int i = 0; i < rn; ++i) {
            const float* src = p.H + static_cast<long long>(r0 + i) * p.ldh;
            float* dst = hpack + static_cast<long long>(i) * Kp;
            for (int k = 0; k < Kp; ++k) dst[k] = k < K ? src[k] : 0.0f;
        }
        for (int j0 = 0; j0 < cn; j0 += 6) {
            const int nrows = min(6, cn - j0);
            const float* a[6];
            float* out[6];
            for (int i = 0; i < 6; ++i) {
                const int j = j0 + min(i, nrows - 1);
                a[i] = tile + j;
                out[i] = dW + static_cast<long long>(c0 + j) * lddw;
            }
            for (int k0 = 0; k0 < K; k0 += 16)
                sharpmax_lx_gemm_6x16(a, LX_CLASSES, hpack + k0, Kp, rn, out, k0, nrows, min(16, K - k0), accumulate,
                                      nullptr);
        }
    }
};

// The forward that also makes dH, in the same pass over the class tiles (_simd only: one product fewer than
// forward + backward_input, which recomputes every logit). For a row r in use, with e_j = exp(x_j - m) against
// the row's final max m, chain_j the softcap's 1 - tanh² (1 without), t_j the class weight (1 without) and y the label,
// cross_entropy.cu's gradient g_j = (e_j/s·pscale - off·t_j)·scale·chain_j sums to
//   dH_r = (pscale·scale/s)·A_r - (off·scale)·B_r + g_y·W_y,  A_r = Σ_{j≠y} e_j·chain_j·W_j,  B_r = Σ_{j≠y} t_j·chain_j·W_j
// A is summed in dH's row against the running max and rescaled when it grows (as rest is); B, only with label
// smoothing, in the workspace. g_y is lx_row_grad's label entry (the split -rest/s when the label holds the max).
// A bad label anywhere: the plain forward runs (dH is not written) and the status says which.
template <bool CAP>
__device__ __forceinline__ void lx_forward_input_grad(SimdTeam& team, const LxProblem& p, LxRow* rows, float* loss,
                                                      float* lse, float* stats, unsigned long long* status,
                                                      float grad_scale, const int* valid_count, float* dH, int lddh) {
    for (int r = 0; r < p.N; ++r)
        if (p.labels[r] != p.ignore_index && (p.labels[r] < 0 || p.labels[r] >= p.C)) {
            lx_forward<CAP>(team, p, rows, loss, lse, stats, status);
            return;
        }
    static_assert(2 * LX_SIMD_ROWS <= LX_SIMD_WEIGHT_ROWS, "the e and t tiles share the workspace's tile");
    const bool smooth = p.smoothing != 0.0f;
    float* const e_tile = team.tile;                              // rows × 64: e·chain, 0 at the label
    float* const t_tile = team.tile + LX_SIMD_ROWS * LX_CLASSES;  // rows × 64: t·chain, 0 at the label
    float* const b_rows = team.hpack;                             // rows × Kp: B
    float raw_label[LX_SIMD_ROWS];                                // the label's logit before the softcap
    const int tiles = (p.N + LX_SIMD_ROWS - 1) / LX_SIMD_ROWS;
    for (int tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
        const int r0 = tile * LX_SIMD_ROWS, rn = min(LX_SIMD_ROWS, p.N - r0);
        float* const dh_rows = dH + static_cast<long long>(r0) * lddh;
        for (int i = 0; i < rn; ++i) rows[i] = lx_row_start();
        for (int c0 = 0; c0 < p.C; c0 += LX_CLASSES) {
            const int cn = min(LX_CLASSES, p.C - c0);
            team.prepare_classes(p, c0, cn, true);
            team.logits(p, r0, rn, c0, cn);
            for (int i = 0; i < rn; ++i) {
                float* x = e_tile + i * LX_CLASSES;
                const int label = lx_split_label(p, r0 + i);
                float chain[LX_CLASSES];
                if (CAP)
                    for (int j = 0; j < cn; ++j) {
                        if (c0 + j == label) raw_label[i] = x[j];
                        const float th = row_tanh(x[j] / p.t.cap);
                        chain[j] = 1.0f - th * th;
                        x[j] = p.t.cap * th;  // xent_logit<true>
                    }
                const float old_m = rows[i].m;
                lx_row_merge(rows[i], x, c0, cn, label, p.smoothing, p.t.w);
                const float m = rows[i].m;
                if (c0 > 0 && m > old_m) {
                    const float rescale = row_exp(old_m - m);
                    float* a = dh_rows + static_cast<long long>(i) * lddh;
                    for (int k = 0; k < p.K; ++k) a[k] *= rescale;
                }
                float* t = t_tile + i * LX_CLASSES;
                for (int j = 0; j < cn; ++j) {
                    const bool other = label >= 0 && c0 + j != label;
                    if (smooth) t[j] = other ? (CAP ? xent_class_weight(p.t.w, c0 + j) * chain[j] : xent_class_weight(p.t.w, c0 + j)) : 0.0f;
                    x[j] = other ? (CAP ? row_exp(x[j] - m) * chain[j] : row_exp(x[j] - m)) : 0.0f;
                }
            }
            team.add_times_wt(e_tile, rn, cn, dh_rows, lddh, c0 > 0, p.K);
            if (smooth) team.add_times_wt(t_tile, rn, cn, b_rows, team.Kp, c0 > 0, p.K);
        }
        for (int i = 0; i < rn; ++i) {
            const int r = r0 + i;
            lx_row_finish(p, rows[i], r, status, loss, lse, stats);
            float* dh = dh_rows + static_cast<long long>(i) * lddh;
            const int label = lx_split_label(p, r);
            if (label < 0) {
                for (int k = 0; k < p.K; ++k) dh[k] = 0.0f;
                continue;
            }
            // lx_row_grad's factors, from the stats just written
            const float m = stats[r], s = stats[p.N + r], rest = stats[2 * p.N + r];
            const XentGradTerms<CAP> g = xent_grad_terms<CAP>(grad_scale, valid_count, p.smoothing, p.C, label, s, m,
                                                              rest >= 0.0f ? log1pf(rest) : logf(s), p.t,
                                                              rest >= 0.0f ? 1.0f : 0.0f, rest);
            const float inv = safe_reciprocal(s);
            const float g_label = g(row_exp(rows[i].x_label - m) * inv, label, label, CAP ? raw_label[i] : rows[i].x_label);
            const float alpha = g.pscale * inv * g.scale, beta = g.off * g.scale;
            const float* b = b_rows + static_cast<long long>(i) * team.Kp;
            for (int k = 0; k < p.K; ++k)
                dh[k] = alpha * dh[k] - (smooth ? beta * b[k] : 0.0f) + g_label * p.W.at(k, label);
        }
    }
}
}  // namespace

extern "C" __global__ void linear_xent_forward_f32_simd(LX_COMMON_PARAMS, float* loss, float* lse, float* stats,
                                                        unsigned long long* status, LX_TERM_PARAMS, float* z_loss,
                                                        float* workspace) {
    LxRow rows[LX_SIMD_ROWS];
    SimdTeam team(workspace, K);
    const LxProblem p = LX_PROBLEM(z_loss);
#define LX_CALL_ARGS (team, p, rows, loss, lse, stats, status)
    LX_DISPATCH(lx_forward);
#undef LX_CALL_ARGS
}

extern "C" __global__ void linear_xent_forward_input_grad_f32_simd(LX_COMMON_PARAMS, float* loss, float* lse,
                                                                   float* stats, unsigned long long* status,
                                                                   float grad_scale, const int* valid_count, float* dH,
                                                                   int lddh, LX_TERM_PARAMS, float* z_loss,
                                                                   float* workspace) {
    LxRow rows[LX_SIMD_ROWS];
    SimdTeam team(workspace, K);
    const LxProblem p = LX_PROBLEM(z_loss);
#define LX_CALL_ARGS (team, p, rows, loss, lse, stats, status, grad_scale, valid_count, dH, lddh)
    LX_DISPATCH(lx_forward_input_grad);
#undef LX_CALL_ARGS
}

extern "C" __global__ void linear_xent_backward_input_f32_simd(LX_COMMON_PARAMS, const float* stats, float grad_scale,
                                                               const int* valid_count, float* dH, int lddh,
                                                               LX_TERM_PARAMS, float* workspace) {
    SimdTeam team(workspace, K);
    const LxProblem p = LX_PROBLEM(nullptr);
#define LX_CALL_ARGS (team, p, stats, grad_scale, valid_count, dH, lddh)
    LX_DISPATCH(lx_backward_input);
#undef LX_CALL_ARGS
}

extern "C" __global__ void linear_xent_backward_weight_f32_simd(LX_COMMON_PARAMS, const float* stats,
                                                                float grad_scale, const int* valid_count, float* dW,
                                                                int lddw, float* db, LX_TERM_PARAMS,
                                                                float* workspace) {
    SimdTeam team(workspace, K);
    const LxProblem p = LX_PROBLEM(nullptr);
#define LX_CALL_ARGS (team, p, stats, grad_scale, valid_count, dW, lddw, db)
    LX_DISPATCH(lx_backward_weight);
#undef LX_CALL_ARGS
}

#endif  // !defined(__CUDACC__)

SHARPMAX_EXPORT(linear_xent_forward_f32_block, SHARPMAX_SYNC)
SHARPMAX_EXPORT(linear_xent_backward_input_f32_block, SHARPMAX_SYNC)
SHARPMAX_EXPORT(linear_xent_backward_weight_f32_block, SHARPMAX_SYNC)
SHARPMAX_EXPORT_HOST_ONLY(linear_xent_forward_f32_simd, SHARPMAX_NO_SYNC)
SHARPMAX_EXPORT_HOST_ONLY(linear_xent_forward_input_grad_f32_simd, SHARPMAX_NO_SYNC)
SHARPMAX_EXPORT_HOST_ONLY(linear_xent_backward_input_f32_simd, SHARPMAX_NO_SYNC)
SHARPMAX_EXPORT_HOST_ONLY(linear_xent_backward_weight_f32_simd, SHARPMAX_NO_SYNC)
SHARPMAX_STATIC_SHARED(linear_xent_forward_f32_block, sizeof(float) * LX_BLOCK_ROWS * LX_CLASSES + sizeof(LxRow) * LX_BLOCK_ROWS)
SHARPMAX_STATIC_SHARED(linear_xent_backward_input_f32_block, sizeof(float) * LX_BLOCK_ROWS * LX_CLASSES)
SHARPMAX_STATIC_SHARED(linear_xent_backward_weight_f32_block, sizeof(float) * (LX_BLOCK_ROWS + 1) * LX_CLASSES)
SHARPMAX_LAUNCH_BOUNDS(linear_xent_forward_f32_block, LX_THREADS)
SHARPMAX_LAUNCH_BOUNDS(linear_xent_backward_input_f32_block, LX_THREADS)
SHARPMAX_LAUNCH_BOUNDS(linear_xent_backward_weight_f32_block, LX_THREADS)
