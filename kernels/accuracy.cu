// accuracy.cu — predicted classes and the correct count of a batch of logit rows.
// logits[N×C] (row stride ld, C ≥ 1), labels[N] int32, pred[N] int32.
//   argmax_forward_f32    pred[i] = argmax_c logits[i, c]
//   accuracy_forward_f32  *correct += #{ i : argmax_c logits[i, c] == labels[i] }
//                         (adds, so a caller can count a whole epoch on the
//                         device and read one integer at the end)
// argmax as numpy.argmax: ties go to the lowest index, and NaN counts as larger
// than everything (the first NaN wins; argmax.cuh).
// Each thread handles a contiguous run of ⌈N / threads⌉ rows (see sgd.cu) and
// adds its count with one integer atomic: integer sums do not depend on order,
// so the count is deterministic.
#include "sharpmax_compat.cuh"
#include "argmax.cuh"

extern "C" __global__ void SHARPMAX_MAX_THREADS(1024) argmax_forward_f32(const float* __restrict__ logits, int ld, int* __restrict__ pred, int N,
                                              int C) {
    const long long threads = static_cast<long long>(gridDim.x) * blockDim.x;
    const long long t = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
    const long long run = (N + threads - 1) / threads;
    const long long end = min(static_cast<long long>(N), (t + 1) * run);
    for (long long i = t * run; i < end; ++i) pred[i] = row_argmax(logits + i * ld, C);
}

extern "C" __global__ void SHARPMAX_MAX_THREADS(1024) accuracy_forward_f32(const float* __restrict__ logits, int ld, const int* __restrict__ labels,
                                                int* __restrict__ correct, int N, int C) {
    const long long threads = static_cast<long long>(gridDim.x) * blockDim.x;
    const long long t = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
    const long long run = (N + threads - 1) / threads;
    const long long end = min(static_cast<long long>(N), (t + 1) * run);
    int count = 0;
    for (long long i = t * run; i < end; ++i) count += row_argmax(logits + i * ld, C) == labels[i];
    if (count > 0) atomicAdd(correct, count);
}

SHARPMAX_EXPORT(argmax_forward_f32, SHARPMAX_NO_SYNC)
SHARPMAX_EXPORT(accuracy_forward_f32, SHARPMAX_NO_SYNC)
