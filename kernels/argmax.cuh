// argmax.cuh — a logit row's predicted class, as numpy.argmax: ties go to the lowest index, and NaN counts as
// larger than everything (the first NaN wins). accuracy.cu's kernels and the fused training step
// (train_step.cu) count correct rows with it, so both give the same count.
#pragma once
#include "sharpmax_compat.cuh"

__device__ __forceinline__ int row_argmax(const float* __restrict__ row, int C) {
    int best = 0;
    float best_value = row[0];
    for (int c = 1; c < C && best_value == best_value; ++c) {  // stop at the first NaN
        const float v = row[c];
        if (v > best_value || v != v) {
            best = c;
            best_value = v;
        }
    }
    return best;
}
