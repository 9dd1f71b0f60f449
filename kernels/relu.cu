// relu.cu — the rectified linear unit and its backward, element by element:
//   forward   y[i]  = max(x[i], 0)                         (NaN stays NaN, −0 becomes +0)
//   backward  dx[i] = a[i] > 0 ? dy[i] : 0                 a = the saved activation (y, or x: same sign)
//             (PyTorch's threshold_backward: a NaN activation passes dy through, so a fault stays visible)
// y may alias x, and dx may alias dy (in place); a must not alias dx unless it is also dy.
//
//   relu_forward_f32, relu_backward_f32  each thread handles a contiguous run
//       of ⌈n / threads⌉ elements (threads = grid.x·block.x), as sgd.cu: a GPU
//       launch uses ≥ n threads (runs of one, coalesced); the CPU device uses a
//       few threads whose runs vectorize. Any 1-D launch is correct.
// The element-wise bodies are templates on the element type, so a bf16 pass
// adds exports, not copies. linear.cu fuses the same functions into its
// epilogues (linear_relu_forward_*, linear_backward_input_relu_f32_*).
#include "sharpmax_compat.cuh"
#include "relu.cuh"

namespace {

// [begin, end) of this thread's contiguous run of n elements.
__device__ __forceinline__ void run_of(long long n, long long& begin, long long& end) {
    const long long threads = static_cast<long long>(gridDim.x) * blockDim.x;
    const long long t = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
    const long long run = (n + threads - 1) / threads;
    begin = min(n, t * run);
    end = min(n, (t + 1) * run);
}

template <class T>
__device__ __forceinline__ void relu_forward(const T* x, T* y, int n) {
    long long begin, end;
    run_of(n, begin, end);
    for (long long i = begin; i < end; ++i) y[i] = relu_value(x[i]);
}

template <class T>
__device__ __forceinline__ void relu_backward(const T* dy, const T* a, T* dx, int n) {
    long long begin, end;
    run_of(n, begin, end);
    for (long long i = begin; i < end; ++i) dx[i] = relu_mask(a[i], dy[i]);
}

}  // namespace

extern "C" __global__ void SHARPMAX_MAX_THREADS(1024) relu_forward_f32(const float* x, float* y, int n) {
    relu_forward(x, y, n);
}

extern "C" __global__ void SHARPMAX_MAX_THREADS(1024) relu_backward_f32(const float* dy, const float* a, float* dx,
                                                                        int n) {
    relu_backward(dy, a, dx, n);
}

SHARPMAX_EXPORT(relu_forward_f32, SHARPMAX_NO_SYNC)
SHARPMAX_EXPORT(relu_backward_f32, SHARPMAX_NO_SYNC)
