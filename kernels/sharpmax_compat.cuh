// sharpmax_compat.cuh — lets one kernel source compile under nvcc (→ PTX) and
// under the host C++ compiler (→ libsharpmax_host, run by the CPU grid runtime).
//
// Every kernel file includes this header first and ends with one
//   SHARPMAX_EXPORT(kernel_name, SHARPMAX_NO_SYNC | SHARPMAX_SYNC)
// line per kernel. The flag tells the CPU runtime how to run a block:
//   SHARPMAX_NO_SYNC  the kernel never calls __syncthreads, a warp shuffle or a
//                     warp vote: the threads of a block run one after the other
//                     as plain calls (no fibers, no switching cost).
//   SHARPMAX_SYNC     the kernel synchronizes: each thread runs as a fiber and
//                     barriers/shuffles keep their CUDA meaning.
// A kernel registered NO_SYNC that synchronizes with more than one thread per
// block makes its launch fail (CUDA_ERROR_LAUNCH_FAILED), so the flag cannot lie.
//
// A kernel only the CPU device runs (linear.cu's _simd) is defined inside
// `#if !defined(__CUDACC__)` and exported with SHARPMAX_EXPORT_HOST_ONLY: it is
// not in the PTX, and C# never asks a GPU for it.
//
// SHARPMAX_MAX_THREADS(max_threads) before a kernel's name is the most threads
// per block it may be launched with: __launch_bounds__(max_threads, 1) under
// nvcc, so ptxas fits its registers to one such block (65536 / max_threads;
// without the 1, ptxas 11.8 aimed at two blocks per SM and spilled), and
// `.maxntid` in the PTX, which the driver enforces and reports as
// CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK (tests/check-ptx.sh checks registers
// × threads against the register file). On the host it expands to nothing; a
// bound below 1024 is also declared after the export with
// SHARPMAX_LAUNCH_BOUNDS(name, threads) for modules bound without PTX.
//
// Dynamic shared memory is declared with SHARPMAX_DYNAMIC_SHARED(type, name)
// instead of `extern __shared__ type name[];`, and static shared memory with
//   SHARPMAX_SHARED(type, name, count)            for `__shared__ type name[count];`
//   SHARPMAX_SHARED_2D(type, name, rows, cols)    for `__shared__ type name[rows][cols];`
// so that the CPU device can poison it: in the checked mode (and under a
// schedule seed) a block's static shared memory starts as 0xFF bytes (NaN as
// float, -1 as int), as dynamic shared memory does, so a read before a write
// shows instead of passing with the last block's values. A plain `__shared__`
// does not compile on the host (the static_assert says which macro to use).
// Under nvcc both are the plain declarations; on the host `name` is a pointer,
// so `sizeof(name)` is not the array's size: use the count.
//
// Two optional lines after a kernel's export tell the CPU device what the PTX
// tells a GPU, for modules bound without PTX (SMHOST_ALL_KERNELS_IMAGE):
//   SHARPMAX_STATIC_SHARED(kernel_name, bytes)   its static __shared__ bytes
//                                                (all its __shared__ arrays)
//   SHARPMAX_LAUNCH_BOUNDS(kernel_name, threads) its __launch_bounds__ maximum
// When a PTX image is loaded, the runtime reads both from the PTX (`.shared`
// declarations in the entry, `.maxntid`); in the checked mode a declaration
// that disagrees with the PTX, or PTX static shared memory left undeclared,
// fails the module load (CUDA_ERROR_INVALID_IMAGE, the detail names both).
#pragma once

#define SHARPMAX_NO_SYNC 0
#define SHARPMAX_SYNC 1

#if defined(__CUDACC__)

#define SHARPMAX_EXPORT(name, sync_flag)
#define SHARPMAX_EXPORT_HOST_ONLY(name, sync_flag)
#define SHARPMAX_MAX_THREADS(max_threads) __launch_bounds__(max_threads, 1)
#define SHARPMAX_STATIC_SHARED(name, bytes)
#define SHARPMAX_LAUNCH_BOUNDS(name, threads)
#define SHARPMAX_DYNAMIC_SHARED(type, name) extern __shared__ __align__(16) type name[]
#define SHARPMAX_SHARED(type, name, count) __shared__ type name[count]
#define SHARPMAX_SHARED_2D(type, name, rows, cols) __shared__ type name[rows][cols]

#else  // host compilation

#include <cfloat>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline __attribute__((always_inline))
#define __noinline__ __attribute__((noinline))
#define __launch_bounds__(...)
// Shared memory is per block; a block runs entirely on one worker thread, and
// a worker runs one block at a time, so a thread-local static is per block.
#if defined(_MSC_VER)
#define SHARPMAX_TLS thread_local
#define SHARPMAX_TLS_FAST thread_local
#else
// __thread: no dynamic-initialization guard on each access. Not initial-exec:
// that would mark the whole library STATIC_TLS, and __shared__ arrays would
// have to fit glibc's small static-TLS surplus at dlopen. CMake compiles the
// host library with TLS descriptors (-mtls-dialect=gnu2) to keep access cheap.
#define SHARPMAX_TLS __thread
#define SHARPMAX_TLS_FAST __thread
#endif
#define __shared__ static_assert(false, "declare static shared memory with SHARPMAX_SHARED or SHARPMAX_SHARED_2D (sharpmax_compat.cuh), so the CPU device can poison it"); static
#define __restrict__ __restrict

struct uint3 { unsigned int x, y, z; };
struct dim3 { unsigned int x, y, z; };
struct float2 { float x, y; };
struct __attribute__((aligned(16))) float4 { float x, y, z, w; };
struct int2 { int x, y; };
struct __attribute__((aligned(16))) int4 { int x, y, z, w; };
struct __attribute__((aligned(4))) uchar4 { unsigned char x, y, z, w; };
inline float2 make_float2(float x, float y) { return {x, y}; }
inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }
inline int2 make_int2(int x, int y) { return {x, y}; }
inline int4 make_int4(int x, int y, int z, int w) { return {x, y, z, w}; }

namespace sharpmax_rt {

// Set by the runtime before each thread (fiber or plain call) runs.
extern SHARPMAX_TLS_FAST uint3 tls_thread_idx;
extern SHARPMAX_TLS_FAST uint3 tls_block_idx;
extern SHARPMAX_TLS_FAST dim3 tls_block_dim;
extern SHARPMAX_TLS_FAST dim3 tls_grid_dim;

void* dynamic_shared();

// Static shared memory (SHARPMAX_SHARED): storage is a thread-local array, per
// block because a worker runs one block at a time. The runtime numbers the
// blocks each worker runs; the first thread of a block to reach a declaration
// fills it with 0xFF when poisoning is on (checked mode or a schedule seed).
extern SHARPMAX_TLS_FAST std::uint64_t tls_block_serial;
extern SHARPMAX_TLS_FAST bool tls_poison_shared;
template <typename Array>
inline auto static_shared(Array& storage, std::uint64_t& serial) -> decltype(&storage[0]) {
    if (serial != tls_block_serial) {
        serial = tls_block_serial;
        if (tls_poison_shared) std::memset(&storage, 0xFF, sizeof(Array));
    }
    return &storage[0];
}
void syncthreads();
// The warp operations take the CUDA mask: in the checked mode the calling lane
// must be in it and every lane it names must be live and make the same call.
void syncwarp(unsigned int mask);
// Warp exchange: publishes `value` (8 bytes) for this lane, waits for the warp,
// returns the value published by `src_lane` (lane of the same warp), then waits
// again so the slots can be reused.
std::uint64_t warp_exchange(std::uint64_t value, int src_lane, unsigned int mask);
// Returns a 32-bit mask with bit i set when lane i (in `mask`) had a true predicate.
unsigned int warp_ballot(bool predicate, unsigned int mask);

using KernelInvoker = void (*)(void* kernel, void** params);
struct KernelRegistration {
    KernelRegistration(const char* name, void* kernel, KernelInvoker invoker, int sync_flag);
};
// SHARPMAX_STATIC_SHARED / SHARPMAX_LAUNCH_BOUNDS: a declared attribute of a kernel.
enum class KernelAttribute { static_shared_bytes, max_threads };
struct KernelAttributeRegistration {
    KernelAttributeRegistration(const char* name, KernelAttribute attribute, int value);
};

template <typename... A, std::size_t... I>
void invoke_unpacked(void (*kernel)(A...), void** params, std::index_sequence<I...>) {
    kernel(*static_cast<std::remove_reference_t<A>*>(params[I])...);
}
template <typename... A>
void invoke_kernel(void* kernel, void** params) {
    invoke_unpacked(reinterpret_cast<void (*)(A...)>(kernel), params, std::index_sequence_for<A...>{});
}
template <typename... A>
KernelInvoker invoker_for(void (*)(A...)) { return &invoke_kernel<A...>; }

inline int lane_id() {
    unsigned int linear = tls_thread_idx.x + tls_block_dim.x * (tls_thread_idx.y + tls_block_dim.y * tls_thread_idx.z);
    return static_cast<int>(linear % 32u);
}

template <typename T>
std::uint64_t to_bits(T v) {
    static_assert(sizeof(T) <= 8 && std::is_trivially_copyable_v<T>, "shuffle of a type wider than 8 bytes");
    std::uint64_t bits = 0;
    std::memcpy(&bits, &v, sizeof(T));
    return bits;
}
template <typename T>
T from_bits(std::uint64_t bits) {
    T v;
    std::memcpy(&v, &bits, sizeof(T));
    return v;
}

}  // namespace sharpmax_rt

#define SHARPMAX_CONCAT_(a, b) a##b
#define SHARPMAX_CONCAT(a, b) SHARPMAX_CONCAT_(a, b)
#define SHARPMAX_EXPORT(name, sync_flag)                                                  \
    static ::sharpmax_rt::KernelRegistration SHARPMAX_CONCAT(sharpmax_registration_, name)( \
        #name, reinterpret_cast<void*>(&name), ::sharpmax_rt::invoker_for(&name), sync_flag);
#define SHARPMAX_EXPORT_HOST_ONLY(name, sync_flag) SHARPMAX_EXPORT(name, sync_flag)
#define SHARPMAX_MAX_THREADS(max_threads)
#define SHARPMAX_STATIC_SHARED(name, bytes)                                                          \
    static ::sharpmax_rt::KernelAttributeRegistration SHARPMAX_CONCAT(sharpmax_static_shared_, name)( \
        #name, ::sharpmax_rt::KernelAttribute::static_shared_bytes, bytes);
#define SHARPMAX_LAUNCH_BOUNDS(name, threads)                                                        \
    static ::sharpmax_rt::KernelAttributeRegistration SHARPMAX_CONCAT(sharpmax_launch_bounds_, name)( \
        #name, ::sharpmax_rt::KernelAttribute::max_threads, threads);
#define SHARPMAX_DYNAMIC_SHARED(type, name) type* name = static_cast<type*>(::sharpmax_rt::dynamic_shared())
#define SHARPMAX_SHARED(type, name, count)                                        \
    static SHARPMAX_TLS type SHARPMAX_CONCAT(name, _shared_storage)[count];       \
    static SHARPMAX_TLS std::uint64_t SHARPMAX_CONCAT(name, _shared_serial) = 0; \
    type* const name = ::sharpmax_rt::static_shared(SHARPMAX_CONCAT(name, _shared_storage), SHARPMAX_CONCAT(name, _shared_serial))
#define SHARPMAX_SHARED_2D(type, name, rows, cols)                                \
    static SHARPMAX_TLS type SHARPMAX_CONCAT(name, _shared_storage)[rows][cols];  \
    static SHARPMAX_TLS std::uint64_t SHARPMAX_CONCAT(name, _shared_serial) = 0; \
    type(*const name)[cols] = ::sharpmax_rt::static_shared(SHARPMAX_CONCAT(name, _shared_storage), SHARPMAX_CONCAT(name, _shared_serial))

#define threadIdx (::sharpmax_rt::tls_thread_idx)
#define blockIdx (::sharpmax_rt::tls_block_idx)
#define blockDim (::sharpmax_rt::tls_block_dim)
#define gridDim (::sharpmax_rt::tls_grid_dim)
#define warpSize 32

inline void __syncthreads() { ::sharpmax_rt::syncthreads(); }
inline void __syncwarp(unsigned int mask = 0xffffffffu) { ::sharpmax_rt::syncwarp(mask); }

// Shuffles and votes synchronize all live lanes of the warp (lanes outside the
// mask must not be at another warp operation meanwhile), which is how every
// Sharpmax kernel calls them; the checked mode enforces the mask as CUDA
// defines it. `width` splits the warp into segments as in CUDA.
template <typename T>
T __shfl_sync(unsigned int mask, T var, int src_lane, int width = 32) {
    int lane = ::sharpmax_rt::lane_id();
    int src = (lane & ~(width - 1)) + (src_lane & (width - 1));
    return ::sharpmax_rt::from_bits<T>(::sharpmax_rt::warp_exchange(::sharpmax_rt::to_bits(var), src, mask));
}
template <typename T>
T __shfl_xor_sync(unsigned int mask, T var, int lane_mask, int width = 32) {
    int lane = ::sharpmax_rt::lane_id();
    int src = lane ^ lane_mask;
    if ((src & ~(width - 1)) != (lane & ~(width - 1))) src = lane;
    return ::sharpmax_rt::from_bits<T>(::sharpmax_rt::warp_exchange(::sharpmax_rt::to_bits(var), src, mask));
}
template <typename T>
T __shfl_down_sync(unsigned int mask, T var, unsigned int delta, int width = 32) {
    int lane = ::sharpmax_rt::lane_id();
    int src = lane + static_cast<int>(delta);
    if ((src & ~(width - 1)) != (lane & ~(width - 1))) src = lane;
    return ::sharpmax_rt::from_bits<T>(::sharpmax_rt::warp_exchange(::sharpmax_rt::to_bits(var), src, mask));
}
template <typename T>
T __shfl_up_sync(unsigned int mask, T var, unsigned int delta, int width = 32) {
    int lane = ::sharpmax_rt::lane_id();
    int src = lane - static_cast<int>(delta);
    if (src < 0 || (src & ~(width - 1)) != (lane & ~(width - 1))) src = lane;
    return ::sharpmax_rt::from_bits<T>(::sharpmax_rt::warp_exchange(::sharpmax_rt::to_bits(var), src, mask));
}
inline unsigned int __ballot_sync(unsigned int mask, int predicate) { return ::sharpmax_rt::warp_ballot(predicate != 0, mask); }
inline int __any_sync(unsigned int mask, int predicate) { return ::sharpmax_rt::warp_ballot(predicate != 0, mask) != 0u; }
inline int __all_sync(unsigned int mask, int predicate) { return ::sharpmax_rt::warp_ballot(predicate == 0, mask) == 0u; }

// Atomics: blocks run in parallel on the host, so these are real atomics.
template <typename T>
T sharpmax_atomic_fetch_add(T* address, T value) { return __atomic_fetch_add(address, value, __ATOMIC_RELAXED); }
inline int atomicAdd(int* a, int v) { return sharpmax_atomic_fetch_add(a, v); }
inline unsigned int atomicAdd(unsigned int* a, unsigned int v) { return sharpmax_atomic_fetch_add(a, v); }
inline unsigned long long atomicAdd(unsigned long long* a, unsigned long long v) { return sharpmax_atomic_fetch_add(a, v); }
inline float atomicAdd(float* a, float v) {
    float old;
    __atomic_load(a, &old, __ATOMIC_RELAXED);
    float desired = old + v;
    while (!__atomic_compare_exchange(a, &old, &desired, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) desired = old + v;
    return old;
}
inline int atomicSub(int* a, int v) { return __atomic_fetch_sub(a, v, __ATOMIC_RELAXED); }
inline int atomicExch(int* a, int v) { return __atomic_exchange_n(a, v, __ATOMIC_RELAXED); }
inline int atomicMin(int* a, int v) {
    int old = __atomic_load_n(a, __ATOMIC_RELAXED);
    while (v < old && !__atomic_compare_exchange_n(a, &old, v, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
    }
    return old;
}
inline int atomicMax(int* a, int v) {
    int old = __atomic_load_n(a, __ATOMIC_RELAXED);
    while (v > old && !__atomic_compare_exchange_n(a, &old, v, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
    }
    return old;
}
inline int atomicCAS(int* a, int compare, int value) {
    __atomic_compare_exchange_n(a, &compare, value, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
    return compare;
}
inline unsigned long long atomicCAS(unsigned long long* a, unsigned long long compare, unsigned long long value) {
    __atomic_compare_exchange_n(a, &compare, value, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
    return compare;
}

// Math intrinsics: the fast-math variants map to the exact functions on the host.
inline float __expf(float x) { return expf(x); }
inline float __logf(float x) { return logf(x); }
inline float __fdividef(float a, float b) { return a / b; }
inline float __frcp_rn(float x) { return 1.0f / x; }
inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
inline float __saturatef(float x) { return x < 0.0f ? 0.0f : (x > 1.0f ? 1.0f : x); }
inline float __int_as_float(int i) { float f; std::memcpy(&f, &i, 4); return f; }
inline int __float_as_int(float f) { int i; std::memcpy(&i, &f, 4); return i; }
inline float __ldg(const float* p) { return *p; }
inline int __ldg(const int* p) { return *p; }
inline unsigned char __ldg(const unsigned char* p) { return *p; }
inline float4 __ldg(const float4* p) { return *p; }
inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
inline unsigned int min(unsigned int a, unsigned int b) { return a < b ? a : b; }
inline unsigned int max(unsigned int a, unsigned int b) { return a > b ? a : b; }
inline long long min(long long a, long long b) { return a < b ? a : b; }
inline long long max(long long a, long long b) { return a > b ? a : b; }
inline int __popc(unsigned int x) { return __builtin_popcount(x); }
inline int __ffs(int x) { return __builtin_ffs(x); }

#endif
