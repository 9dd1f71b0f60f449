// gather.cu — pick elements by index, for the labels of a shuffled batch:
//   gather_forward_i32  out[i] = src[index[offset + i]]   for i < n
//                       (index null: out[i] = src[offset + i])
// An index outside [0, src_count) writes INT32_MIN instead of reading: memory
// stays safe, and cross-entropy then reports that row's label as out of range.
// Each thread handles a contiguous run of ⌈n / threads⌉ elements (see sgd.cu).
#include "sharpmax_compat.cuh"

extern "C" __global__ void SHARPMAX_MAX_THREADS(1024) gather_forward_i32(const int* __restrict__ src, int src_count, const int* __restrict__ index,
                                              int offset, int* __restrict__ out, int n) {
    const long long threads = static_cast<long long>(gridDim.x) * blockDim.x;
    const long long t = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
    const long long run = (n + threads - 1) / threads;
    const long long end = min(static_cast<long long>(n), (t + 1) * run);
    for (long long i = t * run; i < end; ++i) {
        const long long source = index ? index[offset + i] : offset + i;
        out[i] = (source >= 0 && source < src_count) ? src[source] : static_cast<int>(0x80000000u);
    }
}

SHARPMAX_EXPORT(gather_forward_i32, SHARPMAX_NO_SYNC)
