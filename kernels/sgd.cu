// sgd.cu — one step of plain SGD with optional (coupled) L2 weight decay, as
// torch.optim.SGD without momentum:
//   w[i] -= lr · (g[i] + weight_decay · w[i])        for i < n
//
//   sgd_update_f32  each thread updates a contiguous run of ⌈n / threads⌉
//                   elements (threads = grid.x·block.x). A GPU launch uses ≥ n
//                   threads (runs of one: a thread per element, coalesced); the
//                   CPU device uses a few threads whose runs vectorize.
#include "sharpmax_compat.cuh"

extern "C" __global__ void SHARPMAX_MAX_THREADS(1024) sgd_update_f32(float* __restrict__ w, const float* __restrict__ g, float lr,
                                          float weight_decay, int n) {
    const long long threads = static_cast<long long>(gridDim.x) * blockDim.x;
    const long long t = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
    const long long run = (n + threads - 1) / threads;
    const long long end = min(static_cast<long long>(n), (t + 1) * run);
    for (long long i = t * run; i < end; ++i) w[i] -= lr * (g[i] + weight_decay * w[i]);
}

SHARPMAX_EXPORT(sgd_update_f32, SHARPMAX_NO_SYNC)
