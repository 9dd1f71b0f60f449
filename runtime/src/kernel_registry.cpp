// The table of host-compiled kernels, filled by SHARPMAX_EXPORT's static
// registrations when the library loads.
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
    r.kernels[name] = KernelEntry{name, kernel, invoker, sync_flag == SHARPMAX_SYNC};
}

const KernelEntry* find_kernel(const std::string& name) {
    Registry& r = registry();
    std::lock_guard<std::mutex> lock(r.mutex);
    auto it = r.kernels.find(name);
    return it == r.kernels.end() ? nullptr : &it->second;
}

std::vector<const KernelEntry*> all_kernels() {
    Registry& r = registry();
    std::lock_guard<std::mutex> lock(r.mutex);
    std::vector<const KernelEntry*> result;
    for (auto& [name, entry] : r.kernels) result.push_back(&entry);
    return result;
}

}  // namespace sharpmax_rt
