// relu.cuh — ReLU's element functions, shared by relu.cu (its own kernels) and
// linear.cu (the fused epilogues), so both give bitwise the same values.
// Templates on the element type; a bf16 pass instantiates them for it.
#pragma once

// max(v, 0): NaN stays NaN (as torch.relu), −0 becomes +0. One comparison,
// `!(v <= 0)` (true for v > 0 and for NaN), so the compiler selects instead of
// branching: `v > 0 || v != v` branched per element in the fused linear
// epilogue, a mispredict on about half of them (the fused forward was 1.45×
// the separate kernels' time).
template <class T>
__device__ __forceinline__ T relu_value(T v) {
    return !(v <= T{}) ? v : T{};
}

// The gradient through a ReLU whose output (or input: the same sign) was `a`:
// dy where a > 0, else 0; a NaN activation passes dy through (PyTorch's
// threshold_backward, `a <= 0 ? 0 : dy`). T may also be a GCC/Clang vector of
// floats, lane by lane (linear.cu's host-only masked dX stores 8 lanes at once).
template <class T>
__device__ __forceinline__ T relu_mask(T a, T dy) {
    return a <= T{} ? T{} : dy;
}
