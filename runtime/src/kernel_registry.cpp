// The table of host-compiled kernels, filled by SHARPMAX_EXPORT's static
// registrations (and SHARPMAX_STATIC_SHARED / SHARPMAX_LAUNCH_BOUNDS) when the
// library loads.
#include <map>
#include <mutex>

#include "runtime_internal.h"

namespace sharpmax_rt {

namespace {

struct Registry {
    std::mutex mutex;
    std::map<std::string, KernelEntry> kernels;
};

// A function-local static: registrations run during static initialization of
// other translation units, in an order the linker chooses.
Registry& registry() {
    static Registry instance;
    return instance;
}

}  // namespace

KernelRegistration::KernelRegistration(const char* name, void* kernel, KernelInvoker invoker, int sync_flag) {
    Registry& r = registry();
    std::lock_guard<std::mutex> lock(r.mutex);
    KernelEntry& e = r.kernels[name];  // attributes may have been declared first
    e.name = name;
    e.kernel = kernel;
    e.invoker = invoker;
    e.synchronizes = sync_flag == SHARPMAX_SYNC;
}

KernelAttributeRegistration::KernelAttributeRegistration(const char* name, KernelAttribute attribute, int value) {
    Registry& r = registry();
    std::lock_guard<std::mutex> lock(r.mutex);
    KernelEntry& e = r.kernels[name];
    e.name = name;
    if (attribute == KernelAttribute::static_shared_bytes)
        e.declared_static_shared = value;
    else
        e.declared_max_threads = value;
}

const KernelEntry* find_kernel(const std::string& name) {
    Registry& r = registry();
    std::lock_guard<std::mutex> lock(r.mutex);
    auto it = r.kernels.find(name);
    return it == r.kernels.end() || it->second.kernel == nullptr ? nullptr : &it->second;
}

std::vector<const KernelEntry*> all_kernels() {
    Registry& r = registry();
    std::lock_guard<std::mutex> lock(r.mutex);
    std::vector<const KernelEntry*> result;
    for (auto& [name, entry] : r.kernels)
        if (entry.kernel != nullptr) result.push_back(&entry);
    return result;
}

}  // namespace sharpmax_rt
