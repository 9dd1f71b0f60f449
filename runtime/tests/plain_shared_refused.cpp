// Must NOT compile on the host (ctest host_refuses_plain_shared_declarations):
// a plain __shared__ array would escape the CPU device's poisoning of static
// shared memory, so sharpmax_compat.cuh turns it into a static_assert that
// names SHARPMAX_SHARED.
#include "sharpmax_compat.cuh"

extern "C" __global__ void plain_shared_declaration(float* out) {
    __shared__ float slot[32];
    slot[threadIdx.x] = 1.0f;
    out[threadIdx.x] = slot[threadIdx.x];
}
