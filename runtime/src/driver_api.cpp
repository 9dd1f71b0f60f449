// The CUDA driver API slice of sharpmax_host.h, implemented for the CPU device.
// Result codes and argument checks follow the CUDA driver where a caller could
// tell the difference.
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <regex>
#include <set>
#include <string>
#include <unordered_map>

#include "runtime_internal.h"

struct SMctx_st {
    int retain_count = 0;
};

struct SMfunc_st {
    const sharpmax_rt::KernelEntry* entry = nullptr;
    int max_dynamic_shared = 48 * 1024;
};

struct SMmod_st {
    std::map<std::string, std::unique_ptr<SMfunc_st>> functions;
};

struct SMevent_st {
    bool recorded = false;
    std::chrono::steady_clock::time_point time;
};

namespace {

using sharpmax_rt::set_error_detail;

constexpr int kSharedPerBlock = 48 * 1024;
constexpr int kSharedPerBlockOptIn = 96 * 1024;
constexpr std::size_t kAllocationAlignment = 256;  // as cuMemAlloc guarantees

std::atomic<bool> g_initialized{false};
SMctx_st g_primary_context;
thread_local SMctx_st* tls_current_context = nullptr;

thread_local std::string tls_error_detail;

struct Allocations {
    std::mutex mutex;
    std::map<SMdeviceptr, std::size_t> live;  // start → bytes
    std::size_t live_bytes = 0;
};

Allocations& allocations() {
    static Allocations instance;
    return instance;
}

std::mutex g_modules_mutex;
std::set<SMmod_st*> g_modules;
std::set<SMevent_st*> g_events;

SMresult fail(SMresult code, std::string detail) {
    set_error_detail(std::move(detail));
    return code;
}

// True when [pointer, pointer + bytes) lies inside one live allocation.
bool inside_allocation(SMdeviceptr pointer, std::size_t bytes) {
    Allocations& a = allocations();
    std::lock_guard<std::mutex> lock(a.mutex);
    auto it = a.live.upper_bound(pointer);
    if (it == a.live.begin()) return false;
    --it;
    return pointer >= it->first && pointer - it->first + bytes <= it->second;
}

#define SMHOST_REQUIRE_INIT()                                                              \
    do {                                                                                   \
        if (!g_initialized.load()) return fail(SMHOST_ERROR_NOT_INITIALIZED, "call cuInit first"); \
    } while (0)

SMresult check_device_range(SMdeviceptr pointer, std::size_t bytes, const char* what) {
    if (bytes == 0) return SMHOST_SUCCESS;
    if (!inside_allocation(pointer, bytes))
        return fail(SMHOST_ERROR_INVALID_VALUE,
                    std::string(what) + ": " + std::to_string(bytes) + " bytes at 0x" +
                        [&] {
                            char buffer[32];
                            std::snprintf(buffer, sizeof buffer, "%llx", pointer);
                            return std::string(buffer);
                        }() +
                        " are not inside one live device allocation");
    return SMHOST_SUCCESS;
}

struct ErrorText {
    SMresult code;
    const char* name;
    const char* text;
};

constexpr ErrorText kErrors[] = {
    {SMHOST_SUCCESS, "CUDA_SUCCESS", "no error"},
    {SMHOST_ERROR_INVALID_VALUE, "CUDA_ERROR_INVALID_VALUE", "invalid argument"},
    {SMHOST_ERROR_OUT_OF_MEMORY, "CUDA_ERROR_OUT_OF_MEMORY", "out of memory"},
    {SMHOST_ERROR_NOT_INITIALIZED, "CUDA_ERROR_NOT_INITIALIZED", "initialization error"},
    {SMHOST_ERROR_NO_DEVICE, "CUDA_ERROR_NO_DEVICE", "no CUDA-capable device is detected"},
    {SMHOST_ERROR_INVALID_DEVICE, "CUDA_ERROR_INVALID_DEVICE", "invalid device ordinal"},
    {SMHOST_ERROR_INVALID_IMAGE, "CUDA_ERROR_INVALID_IMAGE", "device kernel image is invalid"},
    {SMHOST_ERROR_INVALID_CONTEXT, "CUDA_ERROR_INVALID_CONTEXT", "invalid device context"},
    {SMHOST_ERROR_INVALID_PTX, "CUDA_ERROR_INVALID_PTX", "a PTX JIT compilation failed"},
    {SMHOST_ERROR_INVALID_HANDLE, "CUDA_ERROR_INVALID_HANDLE", "invalid resource handle"},
    {SMHOST_ERROR_NOT_FOUND, "CUDA_ERROR_NOT_FOUND", "named symbol not found"},
    {SMHOST_ERROR_NOT_READY, "CUDA_ERROR_NOT_READY", "device not ready"},
    {SMHOST_ERROR_ILLEGAL_ADDRESS, "CUDA_ERROR_ILLEGAL_ADDRESS", "an illegal memory access was encountered"},
    {SMHOST_ERROR_LAUNCH_OUT_OF_RESOURCES, "CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES", "too many resources requested for launch"},
    {SMHOST_ERROR_LAUNCH_FAILED, "CUDA_ERROR_LAUNCH_FAILED", "unspecified launch failure"},
    {SMHOST_ERROR_NOT_SUPPORTED, "CUDA_ERROR_NOT_SUPPORTED", "operation not supported"},
    {SMHOST_ERROR_UNKNOWN, "CUDA_ERROR_UNKNOWN", "unknown error"},
};

const ErrorText* find_error(SMresult code) {
    for (const ErrorText& e : kErrors)
        if (e.code == code) return &e;
    return nullptr;
}

// `.entry name(` lines of a PTX text.
std::vector<std::string> ptx_entries(const std::string& ptx) {
    static const std::regex entry(R"(\.entry\s+([A-Za-z_$][A-Za-z0-9_$]*)\s*\()");
    std::vector<std::string> names;
    for (std::sregex_iterator it(ptx.begin(), ptx.end(), entry), end; it != end; ++it) names.push_back((*it)[1]);
    return names;
}

}  // namespace

namespace sharpmax_rt {
void set_error_detail(std::string detail) { tls_error_detail = std::move(detail); }
void clear_error_detail() { tls_error_detail.clear(); }
const char* error_detail() { return tls_error_detail.c_str(); }
}  // namespace sharpmax_rt

extern "C" {

SMresult smhost_cuInit(unsigned int flags) {
    if (flags != 0) return fail(SMHOST_ERROR_INVALID_VALUE, "cuInit flags must be 0");
    g_initialized.store(true);
    return SMHOST_SUCCESS;
}

SMresult smhost_cuDriverGetVersion(int* version) {
    if (version == nullptr) return SMHOST_ERROR_INVALID_VALUE;
    *version = 11080;  // the toolkit whose PTX this library mirrors
    return SMHOST_SUCCESS;
}

SMresult smhost_cuDeviceGetCount(int* count) {
    SMHOST_REQUIRE_INIT();
    if (count == nullptr) return SMHOST_ERROR_INVALID_VALUE;
    *count = 1;
    return SMHOST_SUCCESS;
}

SMresult smhost_cuDeviceGet(SMdevice* device, int ordinal) {
    SMHOST_REQUIRE_INIT();
    if (device == nullptr) return SMHOST_ERROR_INVALID_VALUE;
    if (ordinal != 0) return fail(SMHOST_ERROR_INVALID_DEVICE, "the CPU device has ordinal 0 only");
    *device = 0;
    return SMHOST_SUCCESS;
}

SMresult smhost_cuDeviceGetName(char* name, int length, SMdevice device) {
    SMHOST_REQUIRE_INIT();
    if (device != 0) return SMHOST_ERROR_INVALID_DEVICE;
    if (name == nullptr || length <= 0) return SMHOST_ERROR_INVALID_VALUE;
    std::snprintf(name, static_cast<std::size_t>(length), "Sharpmax CPU grid runtime (%d workers)",
                  sharpmax_rt::worker_count());
    return SMHOST_SUCCESS;
}

SMresult smhost_cuDeviceGetAttribute(int* value, int attribute, SMdevice device) {
    SMHOST_REQUIRE_INIT();
    if (device != 0) return SMHOST_ERROR_INVALID_DEVICE;
    if (value == nullptr) return SMHOST_ERROR_INVALID_VALUE;
    switch (attribute) {
        case SMHOST_ATTR_MAX_THREADS_PER_BLOCK: *value = 1024; break;
        case SMHOST_ATTR_MAX_BLOCK_DIM_X: *value = 1024; break;
        case SMHOST_ATTR_MAX_BLOCK_DIM_Y: *value = 1024; break;
        case SMHOST_ATTR_MAX_BLOCK_DIM_Z: *value = 64; break;
        case SMHOST_ATTR_MAX_GRID_DIM_X: *value = 2147483647; break;
        case SMHOST_ATTR_MAX_GRID_DIM_Y: *value = 65535; break;
        case SMHOST_ATTR_MAX_GRID_DIM_Z: *value = 65535; break;
        case SMHOST_ATTR_MAX_SHARED_MEMORY_PER_BLOCK: *value = kSharedPerBlock; break;
        case SMHOST_ATTR_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN: *value = kSharedPerBlockOptIn; break;
        case SMHOST_ATTR_WARP_SIZE: *value = 32; break;
        case SMHOST_ATTR_MULTIPROCESSOR_COUNT: *value = sharpmax_rt::worker_count(); break;
        case SMHOST_ATTR_COMPUTE_CAPABILITY_MAJOR: *value = 7; break;
        case SMHOST_ATTR_COMPUTE_CAPABILITY_MINOR: *value = 0; break;
        case SMHOST_ATTR_CLOCK_RATE:
        case SMHOST_ATTR_MEMORY_CLOCK_RATE:
        case SMHOST_ATTR_GLOBAL_MEMORY_BUS_WIDTH: *value = 0; break;  // unknown on the host
        default: return fail(SMHOST_ERROR_INVALID_VALUE, "device attribute " + std::to_string(attribute) + " is not reported by the CPU device");
    }
    return SMHOST_SUCCESS;
}

SMresult smhost_cuDeviceTotalMem_v2(size_t* bytes, SMdevice device) {
    SMHOST_REQUIRE_INIT();
    if (device != 0) return SMHOST_ERROR_INVALID_DEVICE;
    if (bytes == nullptr) return SMHOST_ERROR_INVALID_VALUE;
    *bytes = std::size_t{16} << 30;
    return SMHOST_SUCCESS;
}

SMresult smhost_cuDevicePrimaryCtxRetain(SMcontext* context, SMdevice device) {
    SMHOST_REQUIRE_INIT();
    if (device != 0) return SMHOST_ERROR_INVALID_DEVICE;
    if (context == nullptr) return SMHOST_ERROR_INVALID_VALUE;
    ++g_primary_context.retain_count;
    *context = &g_primary_context;
    return SMHOST_SUCCESS;
}

SMresult smhost_cuDevicePrimaryCtxRelease_v2(SMdevice device) {
    SMHOST_REQUIRE_INIT();
    if (device != 0) return SMHOST_ERROR_INVALID_DEVICE;
    if (g_primary_context.retain_count <= 0) return fail(SMHOST_ERROR_INVALID_CONTEXT, "primary context released more often than retained");
    --g_primary_context.retain_count;
    return SMHOST_SUCCESS;
}

SMresult smhost_cuCtxSetCurrent(SMcontext context) {
    SMHOST_REQUIRE_INIT();
    if (context != nullptr && context != &g_primary_context) return SMHOST_ERROR_INVALID_CONTEXT;
    tls_current_context = context;
    return SMHOST_SUCCESS;
}

SMresult smhost_cuCtxSynchronize(void) {
    SMHOST_REQUIRE_INIT();
    return SMHOST_SUCCESS;  // every call is synchronous
}

SMresult smhost_cuMemGetInfo_v2(size_t* free_bytes, size_t* total_bytes) {
    SMHOST_REQUIRE_INIT();
    if (free_bytes == nullptr || total_bytes == nullptr) return SMHOST_ERROR_INVALID_VALUE;
    std::size_t total = std::size_t{16} << 30;
    std::size_t live;
    smhost_liveBytes(&live);
    *total_bytes = total;
    *free_bytes = live < total ? total - live : 0;
    return SMHOST_SUCCESS;
}

SMresult smhost_cuModuleLoadDataEx(SMmodule* module, const void* image, unsigned int, int*, void**) {
    SMHOST_REQUIRE_INIT();
    if (module == nullptr || image == nullptr) return SMHOST_ERROR_INVALID_VALUE;
    std::string text(static_cast<const char*>(image));
    std::vector<std::string> names;
    if (text == SMHOST_ALL_KERNELS_IMAGE) {
        for (const auto* k : sharpmax_rt::all_kernels()) names.push_back(k->name);
    } else {
        if (text.find(".version") == std::string::npos || text.find(".target") == std::string::npos)
            return fail(SMHOST_ERROR_INVALID_IMAGE, "the image is not PTX text (no .version/.target directive)");
        names = ptx_entries(text);
    }
    auto loaded = std::make_unique<SMmod_st>();
    for (const std::string& name : names) {
        const sharpmax_rt::KernelEntry* entry = sharpmax_rt::find_kernel(name);
        if (entry == nullptr)
            return fail(SMHOST_ERROR_NOT_FOUND, "PTX entry '" + name + "' has no host-compiled twin in libsharpmax_host");
        auto function = std::make_unique<SMfunc_st>();
        function->entry = entry;
        loaded->functions[name] = std::move(function);
    }
    std::lock_guard<std::mutex> lock(g_modules_mutex);
    *module = loaded.get();
    g_modules.insert(loaded.release());
    return SMHOST_SUCCESS;
}

SMresult smhost_cuModuleUnload(SMmodule module) {
    SMHOST_REQUIRE_INIT();
    std::lock_guard<std::mutex> lock(g_modules_mutex);
    if (g_modules.erase(module) == 0) return SMHOST_ERROR_INVALID_HANDLE;
    delete module;
    return SMHOST_SUCCESS;
}

SMresult smhost_cuModuleGetFunction(SMfunction* function, SMmodule module, const char* name) {
    SMHOST_REQUIRE_INIT();
    if (function == nullptr || name == nullptr) return SMHOST_ERROR_INVALID_VALUE;
    std::lock_guard<std::mutex> lock(g_modules_mutex);
    if (g_modules.count(module) == 0) return SMHOST_ERROR_INVALID_HANDLE;
    auto it = module->functions.find(name);
    if (it == module->functions.end()) return fail(SMHOST_ERROR_NOT_FOUND, std::string("no kernel named '") + name + "' in the module");
    *function = it->second.get();
    return SMHOST_SUCCESS;
}

SMresult smhost_cuFuncSetAttribute(SMfunction function, int attribute, int value) {
    SMHOST_REQUIRE_INIT();
    if (function == nullptr) return SMHOST_ERROR_INVALID_HANDLE;
    if (attribute != SMHOST_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES)
        return fail(SMHOST_ERROR_NOT_SUPPORTED, "only CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES is supported");
    if (value < 0 || value > kSharedPerBlockOptIn)
        return fail(SMHOST_ERROR_INVALID_VALUE, "dynamic shared memory limit " + std::to_string(value) + " exceeds the opt-in maximum " + std::to_string(kSharedPerBlockOptIn));
    function->max_dynamic_shared = value;
    return SMHOST_SUCCESS;
}

SMresult smhost_cuMemAlloc_v2(SMdeviceptr* pointer, size_t bytes) {
    SMHOST_REQUIRE_INIT();
    if (pointer == nullptr || bytes == 0) return fail(SMHOST_ERROR_INVALID_VALUE, "cuMemAlloc of 0 bytes");
    std::size_t rounded = (bytes + kAllocationAlignment - 1) / kAllocationAlignment * kAllocationAlignment;
#if defined(_WIN32)
    void* p = _aligned_malloc(rounded, kAllocationAlignment);
#else
    void* p = std::aligned_alloc(kAllocationAlignment, rounded);
#endif
    if (p == nullptr) return fail(SMHOST_ERROR_OUT_OF_MEMORY, "could not allocate " + std::to_string(bytes) + " bytes");
    Allocations& a = allocations();
    std::lock_guard<std::mutex> lock(a.mutex);
    *pointer = reinterpret_cast<SMdeviceptr>(p);
    a.live[*pointer] = bytes;
    a.live_bytes += bytes;
    return SMHOST_SUCCESS;
}

SMresult smhost_cuMemFree_v2(SMdeviceptr pointer) {
    SMHOST_REQUIRE_INIT();
    if (pointer == 0) return SMHOST_SUCCESS;
    Allocations& a = allocations();
    {
        std::lock_guard<std::mutex> lock(a.mutex);
        auto it = a.live.find(pointer);
        if (it == a.live.end()) return fail(SMHOST_ERROR_INVALID_VALUE, "cuMemFree of a pointer that is not a live allocation");
        a.live_bytes -= it->second;
        a.live.erase(it);
    }
#if defined(_WIN32)
    _aligned_free(reinterpret_cast<void*>(pointer));
#else
    std::free(reinterpret_cast<void*>(pointer));
#endif
    return SMHOST_SUCCESS;
}

SMresult smhost_cuMemcpyHtoD_v2(SMdeviceptr destination, const void* source, size_t bytes) {
    SMHOST_REQUIRE_INIT();
    if (SMresult r = check_device_range(destination, bytes, "cuMemcpyHtoD destination")) return r;
    if (bytes > 0 && source == nullptr) return SMHOST_ERROR_INVALID_VALUE;
    if (bytes > 0) std::memcpy(reinterpret_cast<void*>(destination), source, bytes);
    return SMHOST_SUCCESS;
}

SMresult smhost_cuMemcpyDtoH_v2(void* destination, SMdeviceptr source, size_t bytes) {
    SMHOST_REQUIRE_INIT();
    if (SMresult r = check_device_range(source, bytes, "cuMemcpyDtoH source")) return r;
    if (bytes > 0 && destination == nullptr) return SMHOST_ERROR_INVALID_VALUE;
    if (bytes > 0) std::memcpy(destination, reinterpret_cast<const void*>(source), bytes);
    return SMHOST_SUCCESS;
}

SMresult smhost_cuMemcpyDtoD_v2(SMdeviceptr destination, SMdeviceptr source, size_t bytes) {
    SMHOST_REQUIRE_INIT();
    if (SMresult r = check_device_range(destination, bytes, "cuMemcpyDtoD destination")) return r;
    if (SMresult r = check_device_range(source, bytes, "cuMemcpyDtoD source")) return r;
    if (bytes > 0) std::memmove(reinterpret_cast<void*>(destination), reinterpret_cast<const void*>(source), bytes);
    return SMHOST_SUCCESS;
}

SMresult smhost_cuMemsetD8_v2(SMdeviceptr destination, unsigned char value, size_t count) {
    SMHOST_REQUIRE_INIT();
    if (SMresult r = check_device_range(destination, count, "cuMemsetD8 destination")) return r;
    if (count > 0) std::memset(reinterpret_cast<void*>(destination), value, count);
    return SMHOST_SUCCESS;
}

SMresult smhost_cuMemsetD32_v2(SMdeviceptr destination, unsigned int value, size_t count) {
    SMHOST_REQUIRE_INIT();
    if (destination % 4 != 0) return fail(SMHOST_ERROR_INVALID_VALUE, "cuMemsetD32 destination is not 4-byte aligned");
    if (SMresult r = check_device_range(destination, count * 4, "cuMemsetD32 destination")) return r;
    auto* words = reinterpret_cast<unsigned int*>(destination);
    for (std::size_t i = 0; i < count; ++i) words[i] = value;
    return SMHOST_SUCCESS;
}

SMresult smhost_cuLaunchKernel(SMfunction function, unsigned int grid_x, unsigned int grid_y, unsigned int grid_z,
                               unsigned int block_x, unsigned int block_y, unsigned int block_z,
                               unsigned int shared_bytes, SMstream, void** kernel_params, void** extra) {
    SMHOST_REQUIRE_INIT();
    sharpmax_rt::clear_error_detail();
    if (function == nullptr) return SMHOST_ERROR_INVALID_HANDLE;
    if (extra != nullptr) return fail(SMHOST_ERROR_NOT_SUPPORTED, "the CPU device takes arguments through kernelParams only");
    auto launch_error = [&](const std::string& why) {
        return fail(SMHOST_ERROR_INVALID_VALUE, "launch of '" + function->entry->name + "' rejected: " + why);
    };
    if (grid_x == 0 || grid_y == 0 || grid_z == 0) return launch_error("a grid dimension is 0");
    if (block_x == 0 || block_y == 0 || block_z == 0) return launch_error("a block dimension is 0");
    if (grid_x > 2147483647u || grid_y > 65535u || grid_z > 65535u) return launch_error("grid dimensions exceed (2^31-1, 65535, 65535)");
    if (block_x > 1024u || block_y > 1024u || block_z > 64u) return launch_error("block dimensions exceed (1024, 1024, 64)");
    unsigned long long threads = 1ull * block_x * block_y * block_z;
    if (threads > 1024u) return launch_error(std::to_string(threads) + " threads per block exceed 1024");
    if (shared_bytes > static_cast<unsigned int>(function->max_dynamic_shared))
        return launch_error(std::to_string(shared_bytes) + " bytes of dynamic shared memory exceed the kernel's limit of " +
                            std::to_string(function->max_dynamic_shared) + " (raise it with cuFuncSetAttribute)");
    if (kernel_params == nullptr) return launch_error("kernelParams is NULL");
    sharpmax_rt::LaunchShape shape{{grid_x, grid_y, grid_z}, {block_x, block_y, block_z}, shared_bytes};
    return sharpmax_rt::run_grid(*function->entry, shape, kernel_params);
}

SMresult smhost_cuEventCreate(SMevent* event, unsigned int) {
    SMHOST_REQUIRE_INIT();
    if (event == nullptr) return SMHOST_ERROR_INVALID_VALUE;
    auto* e = new SMevent_st();
    std::lock_guard<std::mutex> lock(g_modules_mutex);
    g_events.insert(e);
    *event = e;
    return SMHOST_SUCCESS;
}

SMresult smhost_cuEventDestroy_v2(SMevent event) {
    SMHOST_REQUIRE_INIT();
    std::lock_guard<std::mutex> lock(g_modules_mutex);
    if (g_events.erase(event) == 0) return SMHOST_ERROR_INVALID_HANDLE;
    delete event;
    return SMHOST_SUCCESS;
}

SMresult smhost_cuEventRecord(SMevent event, SMstream) {
    SMHOST_REQUIRE_INIT();
    std::lock_guard<std::mutex> lock(g_modules_mutex);
    if (g_events.count(event) == 0) return SMHOST_ERROR_INVALID_HANDLE;
    event->time = std::chrono::steady_clock::now();
    event->recorded = true;
    return SMHOST_SUCCESS;
}

SMresult smhost_cuEventSynchronize(SMevent event) {
    SMHOST_REQUIRE_INIT();
    std::lock_guard<std::mutex> lock(g_modules_mutex);
    return g_events.count(event) == 0 ? SMHOST_ERROR_INVALID_HANDLE : SMHOST_SUCCESS;
}

SMresult smhost_cuEventElapsedTime(float* milliseconds, SMevent start, SMevent end) {
    SMHOST_REQUIRE_INIT();
    if (milliseconds == nullptr) return SMHOST_ERROR_INVALID_VALUE;
    std::lock_guard<std::mutex> lock(g_modules_mutex);
    if (g_events.count(start) == 0 || g_events.count(end) == 0) return SMHOST_ERROR_INVALID_HANDLE;
    if (!start->recorded || !end->recorded) return fail(SMHOST_ERROR_INVALID_HANDLE, "an event was never recorded");
    *milliseconds = std::chrono::duration<float, std::milli>(end->time - start->time).count();
    return SMHOST_SUCCESS;
}

SMresult smhost_cuGetErrorName(SMresult error, const char** name) {
    if (name == nullptr) return SMHOST_ERROR_INVALID_VALUE;
    const ErrorText* e = find_error(error);
    if (e == nullptr) {
        *name = nullptr;
        return SMHOST_ERROR_INVALID_VALUE;
    }
    *name = e->name;
    return SMHOST_SUCCESS;
}

SMresult smhost_cuGetErrorString(SMresult error, const char** text) {
    if (text == nullptr) return SMHOST_ERROR_INVALID_VALUE;
    const ErrorText* e = find_error(error);
    if (e == nullptr) {
        *text = nullptr;
        return SMHOST_ERROR_INVALID_VALUE;
    }
    *text = e->text;
    return SMHOST_SUCCESS;
}

SMresult smhost_liveBytes(size_t* bytes) {
    if (bytes == nullptr) return SMHOST_ERROR_INVALID_VALUE;
    Allocations& a = allocations();
    std::lock_guard<std::mutex> lock(a.mutex);
    *bytes = a.live_bytes;
    return SMHOST_SUCCESS;
}

SMresult smhost_setScheduleSeed(unsigned long long seed) {
    sharpmax_rt::set_schedule_seed(seed);
    return SMHOST_SUCCESS;
}

SMresult smhost_setWorkerCount(int workers) {
    if (workers < 0) return SMHOST_ERROR_INVALID_VALUE;
    sharpmax_rt::set_worker_count(workers);
    return SMHOST_SUCCESS;
}

const char* smhost_lastErrorDetail(void) { return sharpmax_rt::error_detail(); }

}  // extern "C"
