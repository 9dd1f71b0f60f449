// softmax.cu — row-max-subtracted softmax of an N×C matrix, row by row:
//
//   y[r][c] = exp(x[r][c] - m_r) / Σ_k exp(x[r][k] - m_r),   m_r = max_k x[r][k]
//
// x has row stride ldx, y has row stride ldy (both >= C); y may alias x.
// A row whose entries are all -inf gives all zeros (a fully masked row, as in
// FlashAttention) instead of 0/0 = NaN; a +inf or NaN entry makes the row NaN.
//
// Naive chain (the baseline; one thread per row, three launches, two N-float
// workspaces rowmax and rowsum):
//   softmax_rowmax_f32     rowmax[r] = m_r
//   softmax_expsum_f32     y = exp(x - m_r), rowsum[r] = Σ y
//   softmax_normalize_f32  y *= 1 / rowsum[r]
// Fused, one launch; pick by device and row length (Sharpmax.Ops.Softmax does):
//   softmax_forward_f32_row       v1: one thread per row, three tight loops over
//                                 the row (max; exp, store and sum; scale), no
//                                 barrier. The CPU device's kernel for every C: it
//                                 runs without fibers and the loops vectorize.
//   softmax_forward_f32_warp32    v2: one warp per row, the row in registers
//   softmax_forward_f32_warp256       (1, 8 or 32 values per lane: C <= 32, 256,
//   softmax_forward_f32_warp1024      1024), shuffle reductions. blockDim.x % 32 == 0.
//   softmax_forward_f32_block     v3: one block per row, the row cached in
//                                 dynamic shared memory (C floats), block
//                                 reductions. blockDim.x % 32 == 0, shared bytes >= 4·C.
//   softmax_forward_f32_online    v4: one block per row, any C: pass 1 streams
//                                 the row once for the online (max, Σexp) pair
//                                 (Milakov & Gimelshein 2018), pass 2 writes y.
//                                 blockDim.x % 32 == 0.
// Every fused variant takes (const float* x, int N, int C, int ldx, float* y, int ldy).
// Dispatch (src/Sharpmax/Ops/RowDispatch.cs): the CPU device runs _row for every
// C; CUDA runs _warp* for C <= 1024, _block while 4·C bytes fit the opt-in shared
// memory limit, _online beyond.
// Grids: row and warp kernels are 1-D over rows (rows per block = blockDim.x or
// blockDim.x / 32); block and online kernels have one block per row (gridDim.x = N).
#include "rowwise.cuh"

// ---- naive chain --------------------------------------------------------------

extern "C" __global__ void SHARPMAX_MAX_THREADS(1024) softmax_rowmax_f32(const float* __restrict__ x, int N, int C, int ldx,
                                              float* __restrict__ rowmax) {
    int r = blockIdx.x * blockDim.x + threadIdx.x;
    if (r >= N) return;
    rowmax[r] = row_max(x + static_cast<long long>(r) * ldx, C);
}

extern "C" __global__ void SHARPMAX_MAX_THREADS(1024) softmax_expsum_f32(const float* x, int N, int C, int ldx,
                                              const float* __restrict__ rowmax, float* y, int ldy,
                                              float* __restrict__ rowsum) {
    int r = blockIdx.x * blockDim.x + threadIdx.x;
    if (r >= N) return;
    rowsum[r] = row_exp_sum(x + static_cast<long long>(r) * ldx, rowmax[r], y + static_cast<long long>(r) * ldy, C);
}

extern "C" __global__ void SHARPMAX_MAX_THREADS(1024) softmax_normalize_f32(float* __restrict__ y, int N, int C, int ldy,
                                                 const float* __restrict__ rowsum) {
    int r = blockIdx.x * blockDim.x + threadIdx.x;
    if (r >= N) return;
    row_scale(y + static_cast<long long>(r) * ldy, safe_reciprocal(rowsum[r]), C);
}

// ---- fused: one thread per row ------------------------------------------------

extern "C" __global__ ROW_SIMD_CLONES void SHARPMAX_MAX_THREADS(1024) softmax_forward_f32_row(const float* x, int N, int C, int ldx, float* y, int ldy) {
    int r = blockIdx.x * blockDim.x + threadIdx.x;
    if (r >= N) return;
    const float* xr = x + static_cast<long long>(r) * ldx;
    float* yr = y + static_cast<long long>(r) * ldy;
    float m = row_max(xr, C);
    float s = row_exp_sum(xr, m, yr, C);
    row_scale(yr, safe_reciprocal(s), C);
}

// ---- fused: one warp per row, the row in registers ----------------------------

template <int VPT>
__device__ __forceinline__ void softmax_warp(const float* x, int N, int C, int ldx, float* y, int ldy) {
    int lane = threadIdx.x % 32;
    int r = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
    if (r >= N) return;  // whole warps leave together
    const float* xr = x + static_cast<long long>(r) * ldx;
    float* yr = y + static_cast<long long>(r) * ldy;
    float v[VPT];
    float m = ROW_MAX_FLOOR;
ROW_UNROLL
    for (int i = 0; i < VPT; ++i) {
        int c = lane + 32 * i;
        v[i] = c < C ? xr[c] : row_neg_inf();
        m = max2(v[i], m);
    }
    m = warp_max(m);
    float s = 0.0f;
ROW_UNROLL
    for (int i = 0; i < VPT; ++i) {
        v[i] = row_exp_sub(v[i], m);
        s += v[i];
    }
    float inv = safe_reciprocal(warp_sum(s));
ROW_UNROLL
    for (int i = 0; i < VPT; ++i) {
        int c = lane + 32 * i;
        if (c < C) yr[c] = v[i] * inv;
    }
}

extern "C" __global__ void SHARPMAX_MAX_THREADS(256) softmax_forward_f32_warp32(const float* x, int N, int C, int ldx, float* y, int ldy) {
    softmax_warp<1>(x, N, C, ldx, y, ldy);
}
extern "C" __global__ void SHARPMAX_MAX_THREADS(256) softmax_forward_f32_warp256(const float* x, int N, int C, int ldx, float* y, int ldy) {
    softmax_warp<8>(x, N, C, ldx, y, ldy);
}
extern "C" __global__ void SHARPMAX_MAX_THREADS(256) softmax_forward_f32_warp1024(const float* x, int N, int C, int ldx, float* y, int ldy) {
    softmax_warp<32>(x, N, C, ldx, y, ldy);
}

// ---- fused: one block per row, the row in shared memory -----------------------

extern "C" __global__ void SHARPMAX_MAX_THREADS(1024) softmax_forward_f32_block(const float* x, int N, int C, int ldx, float* y, int ldy) {
    SHARPMAX_DYNAMIC_SHARED(float, row);
    SHARPMAX_SHARED(float, scratch, 32);
    int r = blockIdx.x;
    if (r >= N) return;  // whole blocks leave together
    const float* xr = x + static_cast<long long>(r) * ldx;
    float* yr = y + static_cast<long long>(r) * ldy;
    float m = ROW_MAX_FLOOR;
    for (int c = threadIdx.x; c < C; c += blockDim.x) {
        float v = xr[c];
        row[c] = v;
        m = max2(v, m);
    }
    m = block_max(m, scratch);
    float s = 0.0f;
    for (int c = threadIdx.x; c < C; c += blockDim.x) {
        float e = row_exp_sub(row[c], m);
        row[c] = e;
        s += e;
    }
    float inv = safe_reciprocal(block_sum(s, scratch));
    for (int c = threadIdx.x; c < C; c += blockDim.x) yr[c] = row[c] * inv;
}

// ---- fused: one block per row, streaming (online softmax) ---------------------

extern "C" __global__ void SHARPMAX_MAX_THREADS(1024) softmax_forward_f32_online(const float* x, int N, int C, int ldx, float* y, int ldy) {
    SHARPMAX_SHARED(float, scratch, 64);
    int r = blockIdx.x;
    if (r >= N) return;
    const float* xr = x + static_cast<long long>(r) * ldx;
    float* yr = y + static_cast<long long>(r) * ldy;
    OnlineMaxSum acc{ROW_MAX_FLOOR, 0.0f};
    for (int c = threadIdx.x; c < C; c += blockDim.x) online_add(acc, xr[c]);
    acc = block_online(acc, scratch);
    float inv = safe_reciprocal(acc.d);
    for (int c = threadIdx.x; c < C; c += blockDim.x) yr[c] = row_exp_sub(xr[c], acc.m) * inv;
}

SHARPMAX_EXPORT(softmax_rowmax_f32, SHARPMAX_NO_SYNC)
SHARPMAX_EXPORT(softmax_expsum_f32, SHARPMAX_NO_SYNC)
SHARPMAX_EXPORT(softmax_normalize_f32, SHARPMAX_NO_SYNC)
SHARPMAX_EXPORT(softmax_forward_f32_row, SHARPMAX_NO_SYNC)
SHARPMAX_EXPORT(softmax_forward_f32_warp32, SHARPMAX_SYNC)
SHARPMAX_EXPORT(softmax_forward_f32_warp256, SHARPMAX_SYNC)
SHARPMAX_EXPORT(softmax_forward_f32_warp1024, SHARPMAX_SYNC)
SHARPMAX_EXPORT(softmax_forward_f32_block, SHARPMAX_SYNC)
SHARPMAX_EXPORT(softmax_forward_f32_online, SHARPMAX_SYNC)
// Static __shared__ bytes and launch bounds, for modules bound without PTX
// (the checked mode compares them with the PTX: kernels/README.md).
SHARPMAX_STATIC_SHARED(softmax_forward_f32_block, sizeof(float) * 32)
SHARPMAX_STATIC_SHARED(softmax_forward_f32_online, sizeof(float) * 64)
SHARPMAX_LAUNCH_BOUNDS(softmax_forward_f32_warp32, 256)
SHARPMAX_LAUNCH_BOUNDS(softmax_forward_f32_warp256, 256)
SHARPMAX_LAUNCH_BOUNDS(softmax_forward_f32_warp1024, 256)
