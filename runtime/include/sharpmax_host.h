/* sharpmax_host.h — the C surface of libsharpmax_host.
 *
 * It is the slice of the CUDA driver API that Sharpmax uses, implemented on the
 * CPU by the grid runtime. Each function is the CUDA driver function of the
 * same name with the prefix `smhost_`, the same arguments and the same result
 * codes, so a caller that resolves `cuX` from libcuda.so.1 can resolve
 * `smhost_cuX` from this library instead and run unchanged.
 *
 * Devices: exactly one (ordinal 0, "Sharpmax CPU grid runtime"). Every call is
 * synchronous: a launch has finished when cuLaunchKernel returns, and streams
 * are accepted but only NULL (the default stream) is meaningful.
 * Device pointers are host addresses.
 *
 * Modules: cuModuleLoadDataEx takes a PTX image (NUL-terminated text). Every
 * `.entry` in it must name a kernel compiled into this library, otherwise the
 * load fails with CUDA_ERROR_NOT_FOUND and smhost_lastErrorDetail names the
 * missing entry. The image SMHOST_ALL_KERNELS_IMAGE binds every host kernel,
 * for builds made without a CUDA compiler.
 *
 * Limits come from a named GPU profile (sm_70 … sm_90, default sm_90; see
 * smhost_setGpuProfile), as cuDeviceGetAttribute reports them. Launches count
 * static + dynamic shared memory and honour launch bounds (cuFuncGetAttribute
 * below). Contexts follow the driver's rules: each OS thread has its own
 * current context, and memory, module, launch and event-creation calls made
 * without one fail with CUDA_ERROR_INVALID_CONTEXT. Handles are validated
 * (CUDA_ERROR_INVALID_HANDLE for a bogus one or one whose module was unloaded),
 * and sizes are overflow-checked.
 *
 * Checked mode (SHARPMAX_CHECKED=1 or smhost_setCheckedMode(1)): a launch
 * fails with CUDA_ERROR_ILLEGAL_INSTRUCTION when a warp shuffle/vote/__syncwarp
 * mask leaves out the calling lane or names a lane that exited, does not exist
 * or is at another kind of warp call or with another mask; with CUDA_ERROR_ILLEGAL_ADDRESS when a kernel writes
 * past the dynamic shared memory its launch gave or into the redzone around a
 * device allocation. The context stays usable afterwards (a GPU's would not).
 * Shared memory, dynamic and static (SHARPMAX_SHARED), starts as NaN bytes in each block.
 *
 * Beyond the driver API, smhost_* extras report live allocations, enable the
 * randomized schedule and the checked mode, pick the GPU profile, and explain
 * the last failure.
 */
#ifndef SHARPMAX_HOST_H
#define SHARPMAX_HOST_H

#include <stddef.h>

#if defined(_WIN32)
#define SMHOST_API __declspec(dllexport)
#else
#define SMHOST_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ABI-identical to cuda.h's CUresult, CUdevice, CUdeviceptr and handles. */
typedef int SMresult;
typedef int SMdevice;
typedef unsigned long long SMdeviceptr;
typedef struct SMctx_st* SMcontext;
typedef struct SMmod_st* SMmodule;
typedef struct SMfunc_st* SMfunction;
typedef struct SMevent_st* SMevent;
typedef struct SMstream_st* SMstream;

/* Result codes used here (values as in cuda.h). */
enum {
    SMHOST_SUCCESS = 0,
    SMHOST_ERROR_INVALID_VALUE = 1,
    SMHOST_ERROR_OUT_OF_MEMORY = 2,
    SMHOST_ERROR_NOT_INITIALIZED = 3,
    SMHOST_ERROR_NO_DEVICE = 100,
    SMHOST_ERROR_INVALID_DEVICE = 101,
    SMHOST_ERROR_INVALID_IMAGE = 200,
    SMHOST_ERROR_INVALID_CONTEXT = 201,
    SMHOST_ERROR_INVALID_PTX = 218,
    SMHOST_ERROR_INVALID_HANDLE = 400,
    SMHOST_ERROR_NOT_FOUND = 500,
    SMHOST_ERROR_NOT_READY = 600,
    SMHOST_ERROR_ILLEGAL_ADDRESS = 700,
    SMHOST_ERROR_LAUNCH_OUT_OF_RESOURCES = 701,
    SMHOST_ERROR_ILLEGAL_INSTRUCTION = 715,
    SMHOST_ERROR_LAUNCH_FAILED = 719,
    SMHOST_ERROR_NOT_SUPPORTED = 801,
    SMHOST_ERROR_UNKNOWN = 999
};

/* Device attributes answered by cuDeviceGetAttribute (values as in cuda.h). */
enum {
    SMHOST_ATTR_MAX_THREADS_PER_BLOCK = 1,
    SMHOST_ATTR_MAX_BLOCK_DIM_X = 2,
    SMHOST_ATTR_MAX_BLOCK_DIM_Y = 3,
    SMHOST_ATTR_MAX_BLOCK_DIM_Z = 4,
    SMHOST_ATTR_MAX_GRID_DIM_X = 5,
    SMHOST_ATTR_MAX_GRID_DIM_Y = 6,
    SMHOST_ATTR_MAX_GRID_DIM_Z = 7,
    SMHOST_ATTR_MAX_SHARED_MEMORY_PER_BLOCK = 8,
    SMHOST_ATTR_MAX_REGISTERS_PER_BLOCK = 12,
    SMHOST_ATTR_WARP_SIZE = 10,
    SMHOST_ATTR_CLOCK_RATE = 13,
    SMHOST_ATTR_MULTIPROCESSOR_COUNT = 16,
    SMHOST_ATTR_MEMORY_CLOCK_RATE = 36,
    SMHOST_ATTR_GLOBAL_MEMORY_BUS_WIDTH = 37,
    SMHOST_ATTR_COMPUTE_CAPABILITY_MAJOR = 75,
    SMHOST_ATTR_COMPUTE_CAPABILITY_MINOR = 76,
    SMHOST_ATTR_MAX_SHARED_MEMORY_PER_MULTIPROCESSOR = 81,
    SMHOST_ATTR_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN = 97
};

/* Function attributes answered by cuFuncGetAttribute (values as in cuda.h's
 * CUfunction_attribute); any other is CUDA_ERROR_INVALID_VALUE.
 *   MAX_THREADS_PER_BLOCK  the kernel's launch bounds (.maxntid in its PTX, or
 *                          SHARPMAX_LAUNCH_BOUNDS without PTX), else the
 *                          profile's 1024. A launch with more threads fails with
 *                          CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES, as on a GPU.
 *   SHARED_SIZE_BYTES      static __shared__ bytes: the sum of the entry's
 *                          .shared declarations in its PTX, or
 *                          SHARPMAX_STATIC_SHARED without PTX. Known at module
 *                          load, before any launch.
 *   CONST_SIZE_BYTES, LOCAL_SIZE_BYTES  0 (no __constant__ data; no spills).
 *   NUM_REGS               a stand-in, since ptxas does not run here: the most
 *                          registers per thread that still let a block of
 *                          MAX_THREADS_PER_BLOCK threads fit the profile's
 *                          registers per block (65536 / 1024 = 64 by default),
 *                          capped at 255. A GPU reports what ptxas allocated,
 *                          at most this for a kernel that launches full blocks.
 *   PTX_VERSION            the PTX's .target (70 for compute_70).
 *   BINARY_VERSION         the profile's compute capability (90 for sm_90).
 *   MAX_DYNAMIC_SHARED_SIZE_BYTES  the limit a launch's dynamic shared memory
 *                          must keep: by default the profile's 48 KiB minus the
 *                          static bytes, as on a GPU; cuFuncSetAttribute raises
 *                          it while static + dynamic stays within the opt-in
 *                          maximum. */
#define SMHOST_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK 0
#define SMHOST_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES 1
#define SMHOST_FUNC_ATTRIBUTE_CONST_SIZE_BYTES 2
#define SMHOST_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES 3
#define SMHOST_FUNC_ATTRIBUTE_NUM_REGS 4
#define SMHOST_FUNC_ATTRIBUTE_PTX_VERSION 5
#define SMHOST_FUNC_ATTRIBUTE_BINARY_VERSION 6
#define SMHOST_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES 8

#define SMHOST_ALL_KERNELS_IMAGE "// sharpmax: bind all host kernels\n"

SMHOST_API SMresult smhost_cuInit(unsigned int flags);
SMHOST_API SMresult smhost_cuDriverGetVersion(int* version);
SMHOST_API SMresult smhost_cuDeviceGetCount(int* count);
SMHOST_API SMresult smhost_cuDeviceGet(SMdevice* device, int ordinal);
SMHOST_API SMresult smhost_cuDeviceGetName(char* name, int length, SMdevice device);
SMHOST_API SMresult smhost_cuDeviceGetAttribute(int* value, int attribute, SMdevice device);
SMHOST_API SMresult smhost_cuDeviceTotalMem_v2(size_t* bytes, SMdevice device);
SMHOST_API SMresult smhost_cuDevicePrimaryCtxRetain(SMcontext* context, SMdevice device);
SMHOST_API SMresult smhost_cuDevicePrimaryCtxRelease_v2(SMdevice device);
SMHOST_API SMresult smhost_cuCtxSetCurrent(SMcontext context);
SMHOST_API SMresult smhost_cuCtxGetCurrent(SMcontext* context);
SMHOST_API SMresult smhost_cuCtxSynchronize(void);
SMHOST_API SMresult smhost_cuMemGetInfo_v2(size_t* free_bytes, size_t* total_bytes);

SMHOST_API SMresult smhost_cuModuleLoadDataEx(SMmodule* module, const void* image, unsigned int num_options,
                                              int* options, void** option_values);
SMHOST_API SMresult smhost_cuModuleUnload(SMmodule module);
SMHOST_API SMresult smhost_cuModuleGetFunction(SMfunction* function, SMmodule module, const char* name);
SMHOST_API SMresult smhost_cuFuncSetAttribute(SMfunction function, int attribute, int value);
SMHOST_API SMresult smhost_cuFuncGetAttribute(int* value, int attribute, SMfunction function);

SMHOST_API SMresult smhost_cuMemAlloc_v2(SMdeviceptr* pointer, size_t bytes);
SMHOST_API SMresult smhost_cuMemFree_v2(SMdeviceptr pointer);
SMHOST_API SMresult smhost_cuMemcpyHtoD_v2(SMdeviceptr destination, const void* source, size_t bytes);
SMHOST_API SMresult smhost_cuMemcpyDtoH_v2(void* destination, SMdeviceptr source, size_t bytes);
SMHOST_API SMresult smhost_cuMemcpyDtoD_v2(SMdeviceptr destination, SMdeviceptr source, size_t bytes);
SMHOST_API SMresult smhost_cuMemsetD8_v2(SMdeviceptr destination, unsigned char value, size_t count);
SMHOST_API SMresult smhost_cuMemsetD32_v2(SMdeviceptr destination, unsigned int value, size_t count);
/* Page-locked host memory; the CPU device mallocs (all its host memory is reachable by its copies). */
SMHOST_API SMresult smhost_cuMemAllocHost_v2(void** pointer, size_t bytes);
SMHOST_API SMresult smhost_cuMemFreeHost(void* pointer);

SMHOST_API SMresult smhost_cuLaunchKernel(SMfunction function, unsigned int grid_x, unsigned int grid_y,
                                          unsigned int grid_z, unsigned int block_x, unsigned int block_y,
                                          unsigned int block_z, unsigned int shared_bytes, SMstream stream,
                                          void** kernel_params, void** extra);

SMHOST_API SMresult smhost_cuEventCreate(SMevent* event, unsigned int flags);
SMHOST_API SMresult smhost_cuEventDestroy_v2(SMevent event);
SMHOST_API SMresult smhost_cuEventRecord(SMevent event, SMstream stream);
SMHOST_API SMresult smhost_cuEventSynchronize(SMevent event);
SMHOST_API SMresult smhost_cuEventElapsedTime(float* milliseconds, SMevent start, SMevent end);

SMHOST_API SMresult smhost_cuGetErrorName(SMresult error, const char** name);
SMHOST_API SMresult smhost_cuGetErrorString(SMresult error, const char** text);

/* Extras of the host device. */

/* Bytes allocated by cuMemAlloc and not yet freed. */
SMHOST_API SMresult smhost_liveBytes(size_t* bytes);
/* 0: threads of a block run in index order. Any other value: between barriers
 * the threads of a block run in an order shuffled by this seed, and dynamic
 * shared memory starts filled with NaN bytes, to expose missing barriers. */
SMHOST_API SMresult smhost_setScheduleSeed(unsigned long long seed);
/* Worker threads that run blocks in parallel (0: one per core). */
SMHOST_API SMresult smhost_setWorkerCount(int workers);
/* The checked mode (0 off, else on; the environment variable SHARPMAX_CHECKED=1
 * turns it on at load): see "Checked mode" above. */
SMHOST_API SMresult smhost_setCheckedMode(int on);
SMHOST_API int smhost_checkedMode(void);
/* The GPU whose limits the CPU device takes: "sm_70", "sm_75", "sm_80",
 * "sm_86", "sm_89" or "sm_90" (the default; the environment variable
 * SHARPMAX_GPU_PROFILE sets it at load). CUDA_ERROR_INVALID_VALUE for another
 * name. smhost_gpuProfile returns the current one. */
SMHOST_API SMresult smhost_setGpuProfile(const char* name);
SMHOST_API const char* smhost_gpuProfile(void);
/* The sentence explaining the result of the last smhost_ call on this OS
 * thread: every failing call sets it (naming the call and what was wrong),
 * every call clears it on entry, so it is "" after a success. The pointer stays
 * valid until the next smhost_ call on the same thread. */
SMHOST_API const char* smhost_lastErrorDetail(void);

#ifdef __cplusplus
}
#endif

#endif
