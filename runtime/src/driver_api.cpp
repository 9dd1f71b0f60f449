// The CUDA driver API slice of sharpmax_host.h, implemented for the CPU device.
// Result codes and argument checks follow the CUDA driver where a caller could
// tell the difference: handles are validated through tables (a stale or bogus
// handle is CUDA_ERROR_INVALID_HANDLE, never a dereference), sizes and offsets
// are overflow-checked, and calls that need a context fail without one.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "ptx_info.h"
#include "runtime_internal.h"

static_assert(sizeof(void*) == 8, "handles encode a generation in the upper bits");

struct SMctx_st {
    int retain_count = 0;
};

// Functions, modules and events live in tables; the handles given out encode a
// table tag, a slot and the slot's generation, so a handle of an object already
// destroyed (or of another kind, or made up) is recognised, not dereferenced.
struct SMfunc_st {
    const sharpmax_rt::KernelEntry* entry = nullptr;
    int static_shared = 0;       // bytes of static __shared__ memory
    int max_threads = 1024;      // its launch bounds (1024 when it declares none)
    int ptx_arch = 70;           // the virtual architecture its PTX targets
    int max_dynamic_shared = -1;  // CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES; -1: the default
};

struct SMmod_st {
    std::map<std::string, SMfunction> functions;
};

struct SMevent_st {
    bool recorded = false;
    std::chrono::steady_clock::time_point time;
};

namespace {

using sharpmax_rt::GpuProfile;

// ---- limits: GPU profiles ------------------------------------------------------

// From the CUDA C Programming Guide's table of technical specifications per
// compute capability: 48 KiB of shared memory per block without opt-in,
// 64 K 32-bit registers and 1024 threads per block on all of these.
constexpr GpuProfile kProfiles[] = {
    {"sm_70", 7, 0, 48 * 1024, 96 * 1024, 96 * 1024, 65536, 1024},
    {"sm_75", 7, 5, 48 * 1024, 64 * 1024, 64 * 1024, 65536, 1024},
    {"sm_80", 8, 0, 48 * 1024, 163 * 1024, 164 * 1024, 65536, 1024},
    {"sm_86", 8, 6, 48 * 1024, 99 * 1024, 100 * 1024, 65536, 1024},
    {"sm_89", 8, 9, 48 * 1024, 99 * 1024, 100 * 1024, 65536, 1024},
    {"sm_90", 9, 0, 48 * 1024, 227 * 1024, 228 * 1024, 65536, 1024},
};

const GpuProfile* find_profile(const char* name) {
    if (name == nullptr) return nullptr;
    for (const GpuProfile& p : kProfiles)
        if (std::strcmp(p.name, name) == 0) return &p;
    return nullptr;
}

std::atomic<const GpuProfile*>& profile_slot() {
    static std::atomic<const GpuProfile*> slot{[] {
        const char* name = std::getenv("SHARPMAX_GPU_PROFILE");
        const GpuProfile* p = find_profile(name);
        if (p == nullptr && name != nullptr && name[0] != '\0')
            std::fprintf(stderr, "sharpmax_host: SHARPMAX_GPU_PROFILE=%s names no GPU profile; using sm_90\n", name);
        return p != nullptr ? p : find_profile("sm_90");
    }()};
    return slot;
}

std::atomic<bool>& checked_slot() {
    static std::atomic<bool> slot{[] {
        const char* v = std::getenv("SHARPMAX_CHECKED");
        return v != nullptr && v[0] != '\0' && std::strcmp(v, "0") != 0;
    }()};
    return slot;
}

constexpr std::size_t kAllocationAlignment = 256;  // as cuMemAlloc guarantees
constexpr std::size_t kRedzone = 256;               // guard bytes before and after each allocation
constexpr unsigned char kRedzoneByte = 0xA5;
constexpr std::size_t kTotalMemory = std::size_t{16} << 30;
constexpr int kBuiltPtxArch = 70;  // CMake builds the PTX for compute_70

std::atomic<bool> g_initialized{false};
SMctx_st g_primary_context;
thread_local SMctx_st* tls_current_context = nullptr;

thread_local std::string tls_error_detail;

// ---- handle tables ---------------------------------------------------------------

template <typename T>
class HandleTable {
public:
    explicit HandleTable(std::uint64_t tag) : tag_(tag) {}

    T* insert(std::unique_ptr<T> object) {
        std::uint32_t slot;
        if (!free_.empty()) {
            slot = free_.back();
            free_.pop_back();
        } else {
            slot = static_cast<std::uint32_t>(slots_.size());
            slots_.push_back(Slot{});
        }
        slots_[slot].object = std::move(object);
        return reinterpret_cast<T*>((std::uint64_t{slots_[slot].generation} << 32) | (tag_ << 24) | (slot + 1));
    }
    // The object behind `handle`, or null when it is not a live handle of this table.
    T* find(const void* handle) const {
        auto value = reinterpret_cast<std::uint64_t>(handle);
        std::uint64_t slot = (value & 0xFFFFFF) - 1;
        if (((value >> 24) & 0xFF) != tag_ || slot >= slots_.size()) return nullptr;
        const Slot& s = slots_[slot];
        return s.object && s.generation == (value >> 32) ? s.object.get() : nullptr;
    }
    bool erase(const void* handle) {
        if (find(handle) == nullptr) return false;
        auto slot = static_cast<std::uint32_t>((reinterpret_cast<std::uint64_t>(handle) & 0xFFFFFF) - 1);
        slots_[slot].object.reset();
        ++slots_[slot].generation;
        free_.push_back(slot);
        return true;
    }

private:
    struct Slot {
        std::unique_ptr<T> object;
        std::uint32_t generation = 1;
    };
    std::uint64_t tag_;
    std::vector<Slot> slots_;
    std::vector<std::uint32_t> free_;
};

std::mutex g_handles_mutex;  // guards the three tables
HandleTable<SMmod_st> g_modules(0x4D);
HandleTable<SMfunc_st> g_functions(0x46);
HandleTable<SMevent_st> g_events(0x45);

// ---- device memory -------------------------------------------------------------

struct Allocation {
    std::size_t bytes;    // what the caller asked for
    std::size_t span;     // bytes rounded up to the alignment
    void* base;           // what the host allocator returned (redzone first)
};

struct Allocations {
    std::mutex mutex;
    std::map<SMdeviceptr, Allocation> live;  // start → allocation
    std::size_t live_bytes = 0;
};

Allocations& allocations() {
    static Allocations instance;
    return instance;
}

void free_host(void* base) {
#if defined(_WIN32)
    _aligned_free(base);
#else
    std::free(base);
#endif
}

std::string hex(SMdeviceptr p) {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "0x%llx", p);
    return buffer;
}

// One driver call: clears the detail on entry, so after it returns the detail
// is the sentence of its own failure, or empty after a success.
class Call {
public:
    explicit Call(const char* name) : name_(name) { tls_error_detail.clear(); }
    SMresult fail(SMresult code, const std::string& why) const {
        tls_error_detail = std::string(name_) + ": " + why;
        return code;
    }
    SMresult require_init() const {
        return g_initialized.load() ? SMHOST_SUCCESS : fail(SMHOST_ERROR_NOT_INITIALIZED, "call cuInit first");
    }
    // The driver's rule: memory, modules, launches and events belong to the
    // current context of the calling thread.
    SMresult require_context() const {
        if (SMresult r = require_init()) return r;
        if (tls_current_context == nullptr)
            return fail(SMHOST_ERROR_INVALID_CONTEXT, "no current context on this thread (call cuCtxSetCurrent)");
        if (tls_current_context->retain_count <= 0)
            return fail(SMHOST_ERROR_INVALID_CONTEXT, "the current context is the primary context, released");
        return SMHOST_SUCCESS;
    }
    SMresult device(SMdevice d) const {
        if (SMresult r = require_init()) return r;
        return d == 0 ? SMHOST_SUCCESS : fail(SMHOST_ERROR_INVALID_DEVICE, "device " + std::to_string(d) + " does not exist (the CPU device is ordinal 0)");
    }

private:
    const char* name_;
};

// [pointer, pointer + bytes) must lie inside one live allocation; overflow-safe.
SMresult check_device_range(const Call& call, SMdeviceptr pointer, std::size_t bytes, const char* what) {
    if (bytes == 0) return SMHOST_SUCCESS;
    Allocations& a = allocations();
    std::lock_guard<std::mutex> lock(a.mutex);
    auto it = a.live.upper_bound(pointer);
    if (it != a.live.begin()) {
        --it;
        std::size_t offset = pointer - it->first;
        if (offset < it->second.bytes && bytes <= it->second.bytes - offset) return SMHOST_SUCCESS;
    }
    return call.fail(SMHOST_ERROR_INVALID_VALUE, std::string(what) + ": " + std::to_string(bytes) + " bytes at " + hex(pointer) +
                                                     " are not inside one live device allocation");
}

// Checked mode, after a launch: a redzone byte that changed means the kernel
// wrote outside an allocation. The redzone is restored, so the next launch is
// judged on its own.
SMresult check_redzones(const std::string& kernel) {
    Allocations& a = allocations();
    std::lock_guard<std::mutex> lock(a.mutex);
    for (auto& [start, alloc] : a.live) {
        auto* base = static_cast<unsigned char*>(alloc.base);
        auto* after = base + kRedzone + alloc.bytes;
        std::size_t after_bytes = alloc.span - alloc.bytes + kRedzone;
        const char* where = nullptr;
        for (std::size_t i = 0; i < kRedzone && where == nullptr; ++i)
            if (base[i] != kRedzoneByte) where = "before the start of";
        for (std::size_t i = 0; i < after_bytes && where == nullptr; ++i)
            if (after[i] != kRedzoneByte) where = "past the end of";
        if (where != nullptr) {
            std::memset(base, kRedzoneByte, kRedzone);
            std::memset(after, kRedzoneByte, after_bytes);
            sharpmax_rt::set_error_detail("cuLaunchKernel: kernel '" + kernel + "' wrote " + where + " the " + std::to_string(alloc.bytes) +
                                          "-byte device allocation at " + hex(start) + " (checked mode)");
            return SMHOST_ERROR_ILLEGAL_ADDRESS;
        }
    }
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
    {SMHOST_ERROR_ILLEGAL_INSTRUCTION, "CUDA_ERROR_ILLEGAL_INSTRUCTION", "an illegal instruction was encountered"},
    {SMHOST_ERROR_LAUNCH_FAILED, "CUDA_ERROR_LAUNCH_FAILED", "unspecified launch failure"},
    {SMHOST_ERROR_NOT_SUPPORTED, "CUDA_ERROR_NOT_SUPPORTED", "operation not supported"},
    {SMHOST_ERROR_UNKNOWN, "CUDA_ERROR_UNKNOWN", "unknown error"},
};

const ErrorText* find_error(SMresult code) {
    for (const ErrorText& e : kErrors)
        if (e.code == code) return &e;
    return nullptr;
}

// The dynamic shared memory a function may take: its attribute, or by default
// what is left of the per-block limit after its static shared memory.
int dynamic_shared_limit(const SMfunc_st& f) {
    if (f.max_dynamic_shared >= 0) return f.max_dynamic_shared;
    int left = sharpmax_rt::gpu_profile().shared_per_block - f.static_shared;
    return left > 0 ? left : 0;
}

// Binds one PTX entry (or, without PTX, one registered kernel) to a function.
SMresult make_function(const Call& call, const sharpmax_rt::KernelEntry& entry, const sharpmax_rt::PtxEntryInfo* ptx, int ptx_arch,
                       std::unique_ptr<SMfunc_st>& out) {
    auto f = std::make_unique<SMfunc_st>();
    f->entry = &entry;
    f->ptx_arch = ptx_arch;
    int declared_shared = entry.declared_static_shared;
    int declared_threads = entry.declared_max_threads;
    if (ptx == nullptr) {
        f->static_shared = declared_shared > 0 ? declared_shared : 0;
        f->max_threads = declared_threads > 0 ? declared_threads : 1024;
    } else {
        f->static_shared = ptx->static_shared_bytes;
        f->max_threads = ptx->max_threads > 0 ? ptx->max_threads : 1024;
        if (sharpmax_rt::checked_mode()) {
            // The declarations serve modules without PTX: they must say what the PTX says.
            if (ptx->static_shared_bytes != (declared_shared < 0 ? 0 : declared_shared))
                return call.fail(SMHOST_ERROR_INVALID_IMAGE,
                                 "kernel '" + entry.name + "': the PTX has " + std::to_string(ptx->static_shared_bytes) +
                                     " bytes of static shared memory, its export declares " +
                                     (declared_shared < 0 ? std::string("none") : std::to_string(declared_shared)) + " (write SHARPMAX_STATIC_SHARED(" +
                                     entry.name + ", " + std::to_string(ptx->static_shared_bytes) + ")) (checked mode)");
            if (declared_threads > 0 && ptx->max_threads != declared_threads)
                return call.fail(SMHOST_ERROR_INVALID_IMAGE,
                                 "kernel '" + entry.name + "': the PTX's launch bounds are " +
                                     (ptx->max_threads > 0 ? std::to_string(ptx->max_threads) : std::string("absent")) +
                                     ", SHARPMAX_LAUNCH_BOUNDS declares " + std::to_string(declared_threads) + " (checked mode)");
        }
    }
    out = std::move(f);
    return SMHOST_SUCCESS;
}

}  // namespace

namespace sharpmax_rt {
void set_error_detail(std::string detail) { tls_error_detail = std::move(detail); }
void clear_error_detail() { tls_error_detail.clear(); }
const char* error_detail() { return tls_error_detail.c_str(); }
const GpuProfile& gpu_profile() { return *profile_slot().load(); }
bool set_gpu_profile(const char* name) {
    const GpuProfile* p = find_profile(name);
    if (p == nullptr) return false;
    profile_slot().store(p);
    return true;
}
bool checked_mode() { return checked_slot().load(); }
void set_checked_mode(bool on) { checked_slot().store(on); }
}  // namespace sharpmax_rt

extern "C" {

SMresult smhost_cuInit(unsigned int flags) {
    Call call("cuInit");
    if (flags != 0) return call.fail(SMHOST_ERROR_INVALID_VALUE, "flags must be 0");
    g_initialized.store(true);
    return SMHOST_SUCCESS;
}

SMresult smhost_cuDriverGetVersion(int* version) {
    Call call("cuDriverGetVersion");
    if (version == nullptr) return call.fail(SMHOST_ERROR_INVALID_VALUE, "version is NULL");
    *version = 11080;  // the toolkit whose PTX this library mirrors
    return SMHOST_SUCCESS;
}

SMresult smhost_cuDeviceGetCount(int* count) {
    Call call("cuDeviceGetCount");
    if (SMresult r = call.require_init()) return r;
    if (count == nullptr) return call.fail(SMHOST_ERROR_INVALID_VALUE, "count is NULL");
    *count = 1;
    return SMHOST_SUCCESS;
}

SMresult smhost_cuDeviceGet(SMdevice* device, int ordinal) {
    Call call("cuDeviceGet");
    if (SMresult r = call.require_init()) return r;
    if (device == nullptr) return call.fail(SMHOST_ERROR_INVALID_VALUE, "device is NULL");
    if (ordinal != 0) return call.fail(SMHOST_ERROR_INVALID_DEVICE, "the CPU device has ordinal 0 only");
    *device = 0;
    return SMHOST_SUCCESS;
}

SMresult smhost_cuDeviceGetName(char* name, int length, SMdevice device) {
    Call call("cuDeviceGetName");
    if (SMresult r = call.device(device)) return r;
    if (name == nullptr || length <= 0) return call.fail(SMHOST_ERROR_INVALID_VALUE, "name is NULL or length is not positive");
    std::snprintf(name, static_cast<std::size_t>(length), "Sharpmax CPU grid runtime (%d workers, %s limits)",
                  sharpmax_rt::worker_count(), sharpmax_rt::gpu_profile().name);
    return SMHOST_SUCCESS;
}

SMresult smhost_cuDeviceGetAttribute(int* value, int attribute, SMdevice device) {
    Call call("cuDeviceGetAttribute");
    if (SMresult r = call.device(device)) return r;
    if (value == nullptr) return call.fail(SMHOST_ERROR_INVALID_VALUE, "value is NULL");
    const GpuProfile& p = sharpmax_rt::gpu_profile();
    switch (attribute) {
        case SMHOST_ATTR_MAX_THREADS_PER_BLOCK: *value = p.max_threads_per_block; break;
        case SMHOST_ATTR_MAX_BLOCK_DIM_X: *value = 1024; break;
        case SMHOST_ATTR_MAX_BLOCK_DIM_Y: *value = 1024; break;
        case SMHOST_ATTR_MAX_BLOCK_DIM_Z: *value = 64; break;
        case SMHOST_ATTR_MAX_GRID_DIM_X: *value = 2147483647; break;
        case SMHOST_ATTR_MAX_GRID_DIM_Y: *value = 65535; break;
        case SMHOST_ATTR_MAX_GRID_DIM_Z: *value = 65535; break;
        case SMHOST_ATTR_MAX_SHARED_MEMORY_PER_BLOCK: *value = p.shared_per_block; break;
        case SMHOST_ATTR_MAX_REGISTERS_PER_BLOCK: *value = p.registers_per_block; break;
        case SMHOST_ATTR_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN: *value = p.shared_per_block_optin; break;
        case SMHOST_ATTR_MAX_SHARED_MEMORY_PER_MULTIPROCESSOR: *value = p.shared_per_multiprocessor; break;
        case SMHOST_ATTR_WARP_SIZE: *value = 32; break;
        case SMHOST_ATTR_MULTIPROCESSOR_COUNT: *value = sharpmax_rt::worker_count(); break;
        case SMHOST_ATTR_COMPUTE_CAPABILITY_MAJOR: *value = p.compute_major; break;
        case SMHOST_ATTR_COMPUTE_CAPABILITY_MINOR: *value = p.compute_minor; break;
        case SMHOST_ATTR_CLOCK_RATE:
        case SMHOST_ATTR_MEMORY_CLOCK_RATE:
        case SMHOST_ATTR_GLOBAL_MEMORY_BUS_WIDTH: *value = 0; break;  // unknown on the host
        default:
            return call.fail(SMHOST_ERROR_INVALID_VALUE, "device attribute " + std::to_string(attribute) + " is not reported by the CPU device");
    }
    return SMHOST_SUCCESS;
}

SMresult smhost_cuDeviceTotalMem_v2(size_t* bytes, SMdevice device) {
    Call call("cuDeviceTotalMem");
    if (SMresult r = call.device(device)) return r;
    if (bytes == nullptr) return call.fail(SMHOST_ERROR_INVALID_VALUE, "bytes is NULL");
    *bytes = kTotalMemory;
    return SMHOST_SUCCESS;
}

SMresult smhost_cuDevicePrimaryCtxRetain(SMcontext* context, SMdevice device) {
    Call call("cuDevicePrimaryCtxRetain");
    if (SMresult r = call.device(device)) return r;
    if (context == nullptr) return call.fail(SMHOST_ERROR_INVALID_VALUE, "context is NULL");
    std::lock_guard<std::mutex> lock(g_handles_mutex);
    ++g_primary_context.retain_count;
    *context = &g_primary_context;
    return SMHOST_SUCCESS;
}

SMresult smhost_cuDevicePrimaryCtxRelease_v2(SMdevice device) {
    Call call("cuDevicePrimaryCtxRelease");
    if (SMresult r = call.device(device)) return r;
    std::lock_guard<std::mutex> lock(g_handles_mutex);
    if (g_primary_context.retain_count <= 0)
        return call.fail(SMHOST_ERROR_INVALID_CONTEXT, "primary context released more often than retained");
    --g_primary_context.retain_count;
    return SMHOST_SUCCESS;
}

SMresult smhost_cuCtxSetCurrent(SMcontext context) {
    Call call("cuCtxSetCurrent");
    if (SMresult r = call.require_init()) return r;
    if (context != nullptr && context != &g_primary_context)
        return call.fail(SMHOST_ERROR_INVALID_CONTEXT, "not a context of this device");
    tls_current_context = context;
    return SMHOST_SUCCESS;
}

SMresult smhost_cuCtxGetCurrent(SMcontext* context) {
    Call call("cuCtxGetCurrent");
    if (SMresult r = call.require_init()) return r;
    if (context == nullptr) return call.fail(SMHOST_ERROR_INVALID_VALUE, "context is NULL");
    *context = tls_current_context;
    return SMHOST_SUCCESS;
}

SMresult smhost_cuCtxSynchronize(void) {
    Call call("cuCtxSynchronize");
    return call.require_context();  // every call is synchronous
}

SMresult smhost_cuMemGetInfo_v2(size_t* free_bytes, size_t* total_bytes) {
    Call call("cuMemGetInfo");
    if (SMresult r = call.require_context()) return r;
    if (free_bytes == nullptr || total_bytes == nullptr) return call.fail(SMHOST_ERROR_INVALID_VALUE, "an output pointer is NULL");
    Allocations& a = allocations();
    std::lock_guard<std::mutex> lock(a.mutex);
    *total_bytes = kTotalMemory;
    *free_bytes = kTotalMemory - a.live_bytes;
    return SMHOST_SUCCESS;
}

SMresult smhost_cuModuleLoadDataEx(SMmodule* module, const void* image, unsigned int, int*, void**) {
    Call call("cuModuleLoadDataEx");
    if (SMresult r = call.require_context()) return r;
    if (module == nullptr || image == nullptr) return call.fail(SMHOST_ERROR_INVALID_VALUE, "module or image is NULL");
    std::string text(static_cast<const char*>(image));
    std::vector<std::unique_ptr<SMfunc_st>> functions;
    if (text == SMHOST_ALL_KERNELS_IMAGE) {
        for (const auto* k : sharpmax_rt::all_kernels()) {
            functions.emplace_back();
            if (SMresult r = make_function(call, *k, nullptr, kBuiltPtxArch, functions.back())) return r;
        }
    } else {
        sharpmax_rt::PtxInfo info;
        std::string error;
        if (!sharpmax_rt::parse_ptx(text, info, error)) return call.fail(SMHOST_ERROR_INVALID_IMAGE, error);
        for (const sharpmax_rt::PtxEntryInfo& e : info.entries) {
            const sharpmax_rt::KernelEntry* entry = sharpmax_rt::find_kernel(e.name);
            if (entry == nullptr)
                return call.fail(SMHOST_ERROR_NOT_FOUND, "PTX entry '" + e.name + "' has no host-compiled twin in libsharpmax_host");
            functions.emplace_back();
            if (SMresult r = make_function(call, *entry, &e, info.target_arch, functions.back())) return r;
        }
    }
    auto loaded = std::make_unique<SMmod_st>();
    std::lock_guard<std::mutex> lock(g_handles_mutex);
    for (auto& f : functions) {
        std::string name = f->entry->name;
        loaded->functions[name] = g_functions.insert(std::move(f));
    }
    *module = g_modules.insert(std::move(loaded));
    return SMHOST_SUCCESS;
}

SMresult smhost_cuModuleUnload(SMmodule module) {
    Call call("cuModuleUnload");
    if (SMresult r = call.require_context()) return r;
    std::lock_guard<std::mutex> lock(g_handles_mutex);
    SMmod_st* m = g_modules.find(module);
    if (m == nullptr) return call.fail(SMHOST_ERROR_INVALID_HANDLE, "not a loaded module");
    for (auto& [name, function] : m->functions) g_functions.erase(function);
    g_modules.erase(module);
    return SMHOST_SUCCESS;
}

SMresult smhost_cuModuleGetFunction(SMfunction* function, SMmodule module, const char* name) {
    Call call("cuModuleGetFunction");
    if (SMresult r = call.require_init()) return r;
    if (function == nullptr || name == nullptr) return call.fail(SMHOST_ERROR_INVALID_VALUE, "function or name is NULL");
    std::lock_guard<std::mutex> lock(g_handles_mutex);
    SMmod_st* m = g_modules.find(module);
    if (m == nullptr) return call.fail(SMHOST_ERROR_INVALID_HANDLE, "not a loaded module");
    auto it = m->functions.find(name);
    if (it == m->functions.end()) return call.fail(SMHOST_ERROR_NOT_FOUND, std::string("no kernel named '") + name + "' in the module");
    *function = it->second;
    return SMHOST_SUCCESS;
}

SMresult smhost_cuFuncSetAttribute(SMfunction function, int attribute, int value) {
    Call call("cuFuncSetAttribute");
    if (SMresult r = call.require_init()) return r;
    std::lock_guard<std::mutex> lock(g_handles_mutex);
    SMfunc_st* f = g_functions.find(function);
    if (f == nullptr) return call.fail(SMHOST_ERROR_INVALID_HANDLE, "not a function of a loaded module");
    if (attribute != SMHOST_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES)
        return call.fail(SMHOST_ERROR_NOT_SUPPORTED, "only CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES can be set");
    const int optin = sharpmax_rt::gpu_profile().shared_per_block_optin;
    if (value < 0 || static_cast<long long>(value) + f->static_shared > optin)
        return call.fail(SMHOST_ERROR_INVALID_VALUE,
                         "dynamic shared memory limit " + std::to_string(value) + " plus the kernel's " + std::to_string(f->static_shared) +
                             " static bytes exceeds the opt-in maximum " + std::to_string(optin) + " of " + sharpmax_rt::gpu_profile().name);
    f->max_dynamic_shared = value;
    return SMHOST_SUCCESS;
}

SMresult smhost_cuFuncGetAttribute(int* value, int attribute, SMfunction function) {
    Call call("cuFuncGetAttribute");
    if (SMresult r = call.require_init()) return r;
    if (value == nullptr) return call.fail(SMHOST_ERROR_INVALID_VALUE, "value is NULL");
    std::lock_guard<std::mutex> lock(g_handles_mutex);
    SMfunc_st* f = g_functions.find(function);
    if (f == nullptr) return call.fail(SMHOST_ERROR_INVALID_HANDLE, "not a function of a loaded module");
    const GpuProfile& p = sharpmax_rt::gpu_profile();
    int max_threads = f->max_threads < p.max_threads_per_block ? f->max_threads : p.max_threads_per_block;
    switch (attribute) {
        case SMHOST_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK: *value = max_threads; break;
        case SMHOST_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES: *value = f->static_shared; break;
        case SMHOST_FUNC_ATTRIBUTE_CONST_SIZE_BYTES: *value = 0; break;  // kernels use no __constant__ memory
        case SMHOST_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES: *value = 0; break;  // no spills (tests/check-ptx.sh)
        case SMHOST_FUNC_ATTRIBUTE_NUM_REGS: {
            // Stand-in: the most registers per thread that still let a block of
            // max_threads threads launch on the profile (ptxas is not run here).
            int regs = p.registers_per_block / max_threads;
            *value = regs > 255 ? 255 : regs;
            break;
        }
        case SMHOST_FUNC_ATTRIBUTE_PTX_VERSION: *value = f->ptx_arch; break;
        case SMHOST_FUNC_ATTRIBUTE_BINARY_VERSION: *value = p.compute_major * 10 + p.compute_minor; break;
        case SMHOST_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES: *value = dynamic_shared_limit(*f); break;
        default:
            return call.fail(SMHOST_ERROR_INVALID_VALUE, "function attribute " + std::to_string(attribute) + " is not reported by the CPU device");
    }
    return SMHOST_SUCCESS;
}

SMresult smhost_cuMemAlloc_v2(SMdeviceptr* pointer, size_t bytes) {
    Call call("cuMemAlloc");
    if (SMresult r = call.require_context()) return r;
    if (pointer == nullptr) return call.fail(SMHOST_ERROR_INVALID_VALUE, "pointer is NULL");
    if (bytes == 0) return call.fail(SMHOST_ERROR_INVALID_VALUE, "0 bytes requested");
    Allocations& a = allocations();
    auto too_much = [&] {
        return call.fail(SMHOST_ERROR_OUT_OF_MEMORY, std::to_string(bytes) + " bytes requested, " + std::to_string(kTotalMemory - a.live_bytes) +
                                                         " of the device's " + std::to_string(kTotalMemory) + " free");
    };
    {
        std::lock_guard<std::mutex> lock(a.mutex);
        if (bytes > kTotalMemory - a.live_bytes) return too_much();  // also keeps the sums below from overflowing
    }
    std::size_t span = (bytes + kAllocationAlignment - 1) / kAllocationAlignment * kAllocationAlignment;
    std::size_t total = span + 2 * kRedzone;
#if defined(_WIN32)
    void* base = _aligned_malloc(total, kAllocationAlignment);
#else
    void* base = std::aligned_alloc(kAllocationAlignment, total);
#endif
    if (base == nullptr) return call.fail(SMHOST_ERROR_OUT_OF_MEMORY, "the host could not allocate " + std::to_string(bytes) + " bytes");
    auto* bytes_base = static_cast<unsigned char*>(base);
    std::memset(bytes_base, kRedzoneByte, kRedzone);
    std::memset(bytes_base + kRedzone + bytes, kRedzoneByte, span - bytes + kRedzone);
    std::lock_guard<std::mutex> lock(a.mutex);
    if (bytes > kTotalMemory - a.live_bytes) {  // another thread took it meanwhile
        free_host(base);
        return too_much();
    }
    *pointer = reinterpret_cast<SMdeviceptr>(bytes_base + kRedzone);
    a.live[*pointer] = Allocation{bytes, span, base};
    a.live_bytes += bytes;
    return SMHOST_SUCCESS;
}

SMresult smhost_cuMemFree_v2(SMdeviceptr pointer) {
    Call call("cuMemFree");
    if (SMresult r = call.require_context()) return r;
    if (pointer == 0) return SMHOST_SUCCESS;
    Allocations& a = allocations();
    void* base;
    {
        std::lock_guard<std::mutex> lock(a.mutex);
        auto it = a.live.find(pointer);
        if (it == a.live.end()) return call.fail(SMHOST_ERROR_INVALID_VALUE, hex(pointer) + " is not a live allocation");
        a.live_bytes -= it->second.bytes;
        base = it->second.base;
        a.live.erase(it);
    }
    free_host(base);
    return SMHOST_SUCCESS;
}

SMresult smhost_cuMemcpyHtoD_v2(SMdeviceptr destination, const void* source, size_t bytes) {
    Call call("cuMemcpyHtoD");
    if (SMresult r = call.require_context()) return r;
    if (bytes > 0 && source == nullptr) return call.fail(SMHOST_ERROR_INVALID_VALUE, "source is NULL");
    if (SMresult r = check_device_range(call, destination, bytes, "destination")) return r;
    if (bytes > 0) std::memcpy(reinterpret_cast<void*>(destination), source, bytes);
    return SMHOST_SUCCESS;
}

SMresult smhost_cuMemcpyDtoH_v2(void* destination, SMdeviceptr source, size_t bytes) {
    Call call("cuMemcpyDtoH");
    if (SMresult r = call.require_context()) return r;
    if (bytes > 0 && destination == nullptr) return call.fail(SMHOST_ERROR_INVALID_VALUE, "destination is NULL");
    if (SMresult r = check_device_range(call, source, bytes, "source")) return r;
    if (bytes > 0) std::memcpy(destination, reinterpret_cast<const void*>(source), bytes);
    return SMHOST_SUCCESS;
}

SMresult smhost_cuMemcpyDtoD_v2(SMdeviceptr destination, SMdeviceptr source, size_t bytes) {
    Call call("cuMemcpyDtoD");
    if (SMresult r = call.require_context()) return r;
    if (SMresult r = check_device_range(call, destination, bytes, "destination")) return r;
    if (SMresult r = check_device_range(call, source, bytes, "source")) return r;
    if (bytes > 0) std::memmove(reinterpret_cast<void*>(destination), reinterpret_cast<const void*>(source), bytes);
    return SMHOST_SUCCESS;
}

SMresult smhost_cuMemsetD8_v2(SMdeviceptr destination, unsigned char value, size_t count) {
    Call call("cuMemsetD8");
    if (SMresult r = call.require_context()) return r;
    if (SMresult r = check_device_range(call, destination, count, "destination")) return r;
    if (count > 0) std::memset(reinterpret_cast<void*>(destination), value, count);
    return SMHOST_SUCCESS;
}

SMresult smhost_cuMemsetD32_v2(SMdeviceptr destination, unsigned int value, size_t count) {
    Call call("cuMemsetD32");
    if (SMresult r = call.require_context()) return r;
    if (destination % 4 != 0) return call.fail(SMHOST_ERROR_INVALID_VALUE, "destination is not 4-byte aligned");
    if (count > std::numeric_limits<std::size_t>::max() / 4)
        return call.fail(SMHOST_ERROR_INVALID_VALUE, std::to_string(count) + " 4-byte words overflow the address space");
    if (SMresult r = check_device_range(call, destination, count * 4, "destination")) return r;
    auto* words = reinterpret_cast<unsigned int*>(destination);
    for (std::size_t i = 0; i < count; ++i) words[i] = value;
    return SMHOST_SUCCESS;
}

// Page-locked host memory: every host byte is equally reachable by the CPU
// device's copies, so this only mallocs (and frees). It exists so that the
// C# code that reads results into pinned memory on a GPU runs unchanged here.
SMresult smhost_cuMemAllocHost_v2(void** pointer, size_t bytes) {
    Call call("cuMemAllocHost");
    if (SMresult r = call.require_context()) return r;
    if (pointer == nullptr) return call.fail(SMHOST_ERROR_INVALID_VALUE, "pointer is NULL");
    if (bytes == 0) return call.fail(SMHOST_ERROR_INVALID_VALUE, "0 bytes requested");
    *pointer = std::malloc(bytes);
    if (*pointer == nullptr) return call.fail(SMHOST_ERROR_OUT_OF_MEMORY, "the host could not allocate " + std::to_string(bytes) + " bytes");
    return SMHOST_SUCCESS;
}

SMresult smhost_cuMemFreeHost(void* pointer) {
    Call call("cuMemFreeHost");
    if (SMresult r = call.require_context()) return r;
    std::free(pointer);
    return SMHOST_SUCCESS;
}

SMresult smhost_cuLaunchKernel(SMfunction function, unsigned int grid_x, unsigned int grid_y, unsigned int grid_z,
                               unsigned int block_x, unsigned int block_y, unsigned int block_z,
                               unsigned int shared_bytes, SMstream, void** kernel_params, void** extra) {
    Call call("cuLaunchKernel");
    if (SMresult r = call.require_context()) return r;
    SMfunc_st f;
    {
        std::lock_guard<std::mutex> lock(g_handles_mutex);
        SMfunc_st* found = g_functions.find(function);
        if (found == nullptr) return call.fail(SMHOST_ERROR_INVALID_HANDLE, "not a function of a loaded module");
        f = *found;  // a copy: the module may be unloaded while the grid runs
    }
    if (extra != nullptr) return call.fail(SMHOST_ERROR_NOT_SUPPORTED, "the CPU device takes arguments through kernelParams only");
    const GpuProfile& p = sharpmax_rt::gpu_profile();
    auto launch_error = [&](SMresult code, const std::string& why) {
        return call.fail(code, "launch of '" + f.entry->name + "' rejected: " + why);
    };
    const SMresult invalid = SMHOST_ERROR_INVALID_VALUE;
    if (grid_x == 0 || grid_y == 0 || grid_z == 0) return launch_error(invalid, "a grid dimension is 0");
    if (block_x == 0 || block_y == 0 || block_z == 0) return launch_error(invalid, "a block dimension is 0");
    if (grid_x > 2147483647u || grid_y > 65535u || grid_z > 65535u) return launch_error(invalid, "grid dimensions exceed (2^31-1, 65535, 65535)");
    if (block_x > 1024u || block_y > 1024u || block_z > 64u) return launch_error(invalid, "block dimensions exceed (1024, 1024, 64)");
    unsigned long long threads = 1ull * block_x * block_y * block_z;
    if (threads > static_cast<unsigned long long>(p.max_threads_per_block))
        return launch_error(invalid, std::to_string(threads) + " threads per block exceed " + std::to_string(p.max_threads_per_block));
    if (threads > static_cast<unsigned long long>(f.max_threads))
        return launch_error(SMHOST_ERROR_LAUNCH_OUT_OF_RESOURCES,
                            std::to_string(threads) + " threads per block exceed the kernel's launch bounds of " + std::to_string(f.max_threads));
    int limit = dynamic_shared_limit(f);
    if (shared_bytes > static_cast<unsigned int>(limit))
        return launch_error(invalid, std::to_string(shared_bytes) + " bytes of dynamic shared memory exceed the kernel's limit of " +
                                         std::to_string(limit) + " (" + std::to_string(f.static_shared) +
                                         " static bytes besides; raise it with cuFuncSetAttribute)");
    if (static_cast<long long>(shared_bytes) + f.static_shared > p.shared_per_block_optin)
        return launch_error(invalid, std::to_string(shared_bytes) + " dynamic + " + std::to_string(f.static_shared) +
                                         " static bytes of shared memory exceed the " + std::to_string(p.shared_per_block_optin) +
                                         " of " + p.name);
    if (kernel_params == nullptr) return launch_error(invalid, "kernelParams is NULL");
    sharpmax_rt::LaunchShape shape{{grid_x, grid_y, grid_z}, {block_x, block_y, block_z}, shared_bytes};
    if (SMresult r = sharpmax_rt::run_grid(*f.entry, shape, kernel_params)) return r;
    if (sharpmax_rt::checked_mode()) return check_redzones(f.entry->name);
    return SMHOST_SUCCESS;
}

SMresult smhost_cuEventCreate(SMevent* event, unsigned int) {
    Call call("cuEventCreate");
    if (SMresult r = call.require_context()) return r;
    if (event == nullptr) return call.fail(SMHOST_ERROR_INVALID_VALUE, "event is NULL");
    std::lock_guard<std::mutex> lock(g_handles_mutex);
    *event = g_events.insert(std::make_unique<SMevent_st>());
    return SMHOST_SUCCESS;
}

SMresult smhost_cuEventDestroy_v2(SMevent event) {
    Call call("cuEventDestroy");
    if (SMresult r = call.require_init()) return r;
    std::lock_guard<std::mutex> lock(g_handles_mutex);
    if (!g_events.erase(event)) return call.fail(SMHOST_ERROR_INVALID_HANDLE, "not a live event");
    return SMHOST_SUCCESS;
}

SMresult smhost_cuEventRecord(SMevent event, SMstream) {
    Call call("cuEventRecord");
    if (SMresult r = call.require_context()) return r;
    std::lock_guard<std::mutex> lock(g_handles_mutex);
    SMevent_st* e = g_events.find(event);
    if (e == nullptr) return call.fail(SMHOST_ERROR_INVALID_HANDLE, "not a live event");
    e->time = std::chrono::steady_clock::now();
    e->recorded = true;
    return SMHOST_SUCCESS;
}

SMresult smhost_cuEventSynchronize(SMevent event) {
    Call call("cuEventSynchronize");
    if (SMresult r = call.require_init()) return r;
    std::lock_guard<std::mutex> lock(g_handles_mutex);
    return g_events.find(event) == nullptr ? call.fail(SMHOST_ERROR_INVALID_HANDLE, "not a live event") : SMHOST_SUCCESS;
}

SMresult smhost_cuEventElapsedTime(float* milliseconds, SMevent start, SMevent end) {
    Call call("cuEventElapsedTime");
    if (SMresult r = call.require_init()) return r;
    if (milliseconds == nullptr) return call.fail(SMHOST_ERROR_INVALID_VALUE, "milliseconds is NULL");
    std::lock_guard<std::mutex> lock(g_handles_mutex);
    SMevent_st* s = g_events.find(start);
    SMevent_st* e = g_events.find(end);
    if (s == nullptr || e == nullptr) return call.fail(SMHOST_ERROR_INVALID_HANDLE, "not a live event");
    if (!s->recorded || !e->recorded) return call.fail(SMHOST_ERROR_INVALID_HANDLE, "an event was never recorded");
    *milliseconds = std::chrono::duration<float, std::milli>(e->time - s->time).count();
    return SMHOST_SUCCESS;
}

SMresult smhost_cuGetErrorName(SMresult error, const char** name) {
    Call call("cuGetErrorName");
    if (name == nullptr) return call.fail(SMHOST_ERROR_INVALID_VALUE, "name is NULL");
    const ErrorText* e = find_error(error);
    if (e == nullptr) {
        *name = nullptr;
        return call.fail(SMHOST_ERROR_INVALID_VALUE, "unknown result code " + std::to_string(error));
    }
    *name = e->name;
    return SMHOST_SUCCESS;
}

SMresult smhost_cuGetErrorString(SMresult error, const char** text) {
    Call call("cuGetErrorString");
    if (text == nullptr) return call.fail(SMHOST_ERROR_INVALID_VALUE, "text is NULL");
    const ErrorText* e = find_error(error);
    if (e == nullptr) {
        *text = nullptr;
        return call.fail(SMHOST_ERROR_INVALID_VALUE, "unknown result code " + std::to_string(error));
    }
    *text = e->text;
    return SMHOST_SUCCESS;
}

SMresult smhost_liveBytes(size_t* bytes) {
    Call call("smhost_liveBytes");
    if (bytes == nullptr) return call.fail(SMHOST_ERROR_INVALID_VALUE, "bytes is NULL");
    Allocations& a = allocations();
    std::lock_guard<std::mutex> lock(a.mutex);
    *bytes = a.live_bytes;
    return SMHOST_SUCCESS;
}

SMresult smhost_setScheduleSeed(unsigned long long seed) {
    Call call("smhost_setScheduleSeed");
    sharpmax_rt::set_schedule_seed(seed);
    return SMHOST_SUCCESS;
}

SMresult smhost_setWorkerCount(int workers) {
    Call call("smhost_setWorkerCount");
    if (workers < 0) return call.fail(SMHOST_ERROR_INVALID_VALUE, "workers is negative");
    sharpmax_rt::set_worker_count(workers);
    return SMHOST_SUCCESS;
}

SMresult smhost_setCheckedMode(int on) {
    Call call("smhost_setCheckedMode");
    sharpmax_rt::set_checked_mode(on != 0);
    return SMHOST_SUCCESS;
}

int smhost_checkedMode(void) { return sharpmax_rt::checked_mode() ? 1 : 0; }

SMresult smhost_setGpuProfile(const char* name) {
    Call call("smhost_setGpuProfile");
    if (!sharpmax_rt::set_gpu_profile(name)) {
        std::string known;
        for (const GpuProfile& p : kProfiles) known += std::string(known.empty() ? "" : ", ") + p.name;
        return call.fail(SMHOST_ERROR_INVALID_VALUE, std::string("no GPU profile named '") + (name ? name : "(null)") + "' (known: " + known + ")");
    }
    return SMHOST_SUCCESS;
}

const char* smhost_gpuProfile(void) { return sharpmax_rt::gpu_profile().name; }

const char* smhost_lastErrorDetail(void) { return sharpmax_rt::error_detail(); }

}  // extern "C"
