// Test-only kernels for the runtime's own tests: each exercises one CUDA
// behaviour the runtime must keep (barriers, shuffles, votes, atomics), or
// breaks a rule on purpose (a missing barrier, a lying export flag, a deadlock).
#include "sharpmax_compat.cuh"

// Block-wide tree sum in shared memory: needs every __syncthreads.
extern "C" __global__ void test_block_sum_i32(const int* in, int* out) {
    SHARPMAX_SHARED(int, partial, 1024);
    unsigned int t = threadIdx.x;
    partial[t] = in[blockIdx.x * blockDim.x + t];
    __syncthreads();
    for (unsigned int stride = blockDim.x / 2; stride > 0; stride /= 2) {
        if (t < stride) partial[t] += partial[t + stride];
        __syncthreads();
    }
    if (t == 0) out[blockIdx.x] = partial[0];
}

// Warp sums two ways (xor butterfly and down-shift), plus a ballot of odd values.
extern "C" __global__ void test_warp_ops_i32(const int* in, int* xor_sum, int* down_sum, unsigned int* odd_ballot) {
    unsigned int i = blockIdx.x * blockDim.x + threadIdx.x;
    int v = in[i];
    int a = v;
    for (int mask = 16; mask > 0; mask /= 2) a += __shfl_xor_sync(0xffffffffu, a, mask);
    int b = v;
    for (int delta = 16; delta > 0; delta /= 2) b += __shfl_down_sync(0xffffffffu, b, delta);
    unsigned int ballot = __ballot_sync(0xffffffffu, v & 1);
    xor_sum[i] = a;
    if (threadIdx.x % 32 == 0) {
        down_sum[i / 32] = b;
        odd_ballot[i / 32] = ballot;
    }
}

// Reverses a block's values through dynamic shared memory.
extern "C" __global__ void test_reverse_f32(const float* in, float* out, int with_barrier) {
    SHARPMAX_DYNAMIC_SHARED(float, buffer);
    unsigned int t = threadIdx.x;
    buffer[t] = in[t];
    if (with_barrier) __syncthreads();  // the planted bug: with_barrier == 0
    out[t] = buffer[blockDim.x - 1 - t];
}

// Counts its threads with an integer atomic: blocks run in parallel.
extern "C" __global__ void test_count_threads(int* counter) { atomicAdd(counter, 1); }

// Exported NO_SYNC but synchronizes: the launch must fail.
extern "C" __global__ void test_lying_export(int* out) {
    out[threadIdx.x] = 1;
    __syncthreads();
}

// Thread 0 waits at the block barrier while its warp waits at a warp barrier.
extern "C" __global__ void test_deadlock(int* out) {
    if (threadIdx.x == 0)
        __syncthreads();
    else
        __syncwarp();
    out[threadIdx.x] = 1;
}

// 128 bytes of static shared memory besides its dynamic shared row, as the
// _block softmax kernels have: copies `n` floats through both.
extern "C" __global__ void test_static_and_dynamic_shared_f32(const float* in, float* out, int n) {
    SHARPMAX_DYNAMIC_SHARED(float, row);
    SHARPMAX_SHARED(float, scratch, 32);
    unsigned int t = threadIdx.x;
    if (t < 32) scratch[t] = 1.0f;
    for (int i = static_cast<int>(t); i < n; i += static_cast<int>(blockDim.x)) row[i] = in[i];
    __syncthreads();
    for (int i = static_cast<int>(t); i < n; i += static_cast<int>(blockDim.x)) out[i] = row[i] * scratch[i % 32];
}

// Declares launch bounds of 128 threads.
extern "C" __global__ void __launch_bounds__(128) test_bounded_128(int* counter) { atomicAdd(counter, 1); }

// ---- planted faults for the checked mode ----------------------------------

// Lane 0 shuffles with a mask that leaves it out.
extern "C" __global__ void test_fault_caller_not_in_mask(int* out) {
    unsigned int mask = threadIdx.x == 0 ? 0xfffffffeu : 0xffffffffu;
    out[threadIdx.x] = __shfl_xor_sync(mask, static_cast<int>(threadIdx.x), 1);
}

// Lanes 16..31 exit; the rest shuffle with a full mask that names them.
extern "C" __global__ void test_fault_exited_lane_in_mask(int* out) {
    if (threadIdx.x % 32 >= 16) return;
    out[threadIdx.x] = __shfl_down_sync(0xffffffffu, static_cast<int>(threadIdx.x), 1);
}

// Even lanes vote while odd lanes shuffle, both with a full mask: a diverged warp.
extern "C" __global__ void test_fault_diverged_vote(unsigned int* out) {
    if (threadIdx.x % 2 == 0)
        out[threadIdx.x] = __ballot_sync(0xffffffffu, 1);
    else
        out[threadIdx.x] = __shfl_xor_sync(0xffffffffu, threadIdx.x, 1);
}

// The correct way to vote in half a warp: the mask names exactly the lanes that call.
extern "C" __global__ void test_half_warp_vote(unsigned int* out) {
    if (threadIdx.x % 32 >= 16) return;
    out[threadIdx.x] = __ballot_sync(0x0000ffffu, threadIdx.x % 2);
}

// Writes `n` floats of dynamic shared memory, whatever the launch gave.
extern "C" __global__ void test_fault_dynamic_shared_overrun(float* out, int n) {
    SHARPMAX_DYNAMIC_SHARED(float, row);
    for (int i = static_cast<int>(threadIdx.x); i < n; i += static_cast<int>(blockDim.x)) row[i] = 1.0f;
    __syncthreads();
    if (threadIdx.x == 0) out[0] = row[0];
}

// Reads its static shared slot before writing it (the planted bug: no thread
// wrote it in this block), then writes 1: without poisoning, a later block on
// the same worker would read this block's 1 and pass for initialized.
extern "C" __global__ void test_fault_static_shared_read_before_write(float* out) {
    SHARPMAX_SHARED(float, slot, 32);
    unsigned int t = threadIdx.x;
    out[blockIdx.x * blockDim.x + t] = slot[t];
    slot[t] = 1.0f;
}

// Thread 0 writes one float of dynamic shared memory at `index`, whatever the launch gave.
extern "C" __global__ void test_fault_dynamic_shared_far_write(float* out, int index) {
    SHARPMAX_DYNAMIC_SHARED(float, row);
    if (threadIdx.x == 0) {
        row[index] = 1.0f;
        out[0] = row[index];
    }
}

// Writes out[n]: one element past an n-element allocation.
extern "C" __global__ void test_fault_device_write_past_end(int* out, int n) {
    if (threadIdx.x == 0) out[n] = 1;
}

SHARPMAX_EXPORT(test_block_sum_i32, SHARPMAX_SYNC)
SHARPMAX_EXPORT(test_warp_ops_i32, SHARPMAX_SYNC)
SHARPMAX_EXPORT(test_reverse_f32, SHARPMAX_SYNC)
SHARPMAX_EXPORT(test_count_threads, SHARPMAX_NO_SYNC)
SHARPMAX_EXPORT(test_lying_export, SHARPMAX_NO_SYNC)
SHARPMAX_EXPORT(test_deadlock, SHARPMAX_SYNC)
SHARPMAX_EXPORT(test_static_and_dynamic_shared_f32, SHARPMAX_SYNC)
SHARPMAX_EXPORT(test_bounded_128, SHARPMAX_NO_SYNC)
SHARPMAX_STATIC_SHARED(test_block_sum_i32, sizeof(int) * 1024)
SHARPMAX_STATIC_SHARED(test_static_and_dynamic_shared_f32, sizeof(float) * 32)
SHARPMAX_LAUNCH_BOUNDS(test_bounded_128, 128)
SHARPMAX_EXPORT(test_fault_caller_not_in_mask, SHARPMAX_SYNC)
SHARPMAX_EXPORT(test_fault_exited_lane_in_mask, SHARPMAX_SYNC)
SHARPMAX_EXPORT(test_fault_diverged_vote, SHARPMAX_SYNC)
SHARPMAX_EXPORT(test_half_warp_vote, SHARPMAX_SYNC)
SHARPMAX_EXPORT(test_fault_dynamic_shared_overrun, SHARPMAX_SYNC)
SHARPMAX_EXPORT(test_fault_device_write_past_end, SHARPMAX_NO_SYNC)
SHARPMAX_EXPORT(test_fault_static_shared_read_before_write, SHARPMAX_NO_SYNC)
SHARPMAX_EXPORT(test_fault_dynamic_shared_far_write, SHARPMAX_NO_SYNC)
