// Internal interfaces between the parts of the CPU grid runtime.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sharpmax_compat.cuh"
#include "sharpmax_host.h"

namespace sharpmax_rt {

struct KernelEntry {
    std::string name;
    void* kernel = nullptr;  // null until SHARPMAX_EXPORT ran (attributes may come first)
    KernelInvoker invoker = nullptr;
    bool synchronizes = false;       // SHARPMAX_SYNC: run the block's threads as fibers
    int declared_static_shared = -1;  // SHARPMAX_STATIC_SHARED, -1: not declared
    int declared_max_threads = 0;     // SHARPMAX_LAUNCH_BOUNDS, 0: not declared
};

// Kernels compiled into this library, registered by SHARPMAX_EXPORT.
const KernelEntry* find_kernel(const std::string& name);
std::vector<const KernelEntry*> all_kernels();

// The GPU whose limits the CPU device takes (smhost_setGpuProfile).
struct GpuProfile {
    const char* name;
    int compute_major, compute_minor;
    int shared_per_block;         // without opt-in (48 KiB on every profile)
    int shared_per_block_optin;   // cudaDevAttrMaxSharedMemoryPerBlockOptin
    int shared_per_multiprocessor;
    int registers_per_block;
    int max_threads_per_block;
};
const GpuProfile& gpu_profile();
// False when no profile has that name.
bool set_gpu_profile(const char* name);

// The checked mode (SHARPMAX_CHECKED=1, smhost_setCheckedMode).
bool checked_mode();
void set_checked_mode(bool on);

struct LaunchShape {
    dim3 grid;
    dim3 block;
    unsigned int dynamic_shared_bytes;
};

// Runs every block of the grid to completion. Returns an SMresult and, on
// failure, records a sentence with set_error_detail.
SMresult run_grid(const KernelEntry& kernel, const LaunchShape& shape, void** params);

void set_schedule_seed(std::uint64_t seed);
void set_worker_count(int workers);
int worker_count();

// The "why" behind the last failure on this OS thread (smhost_lastErrorDetail).
void set_error_detail(std::string detail);
void clear_error_detail();
const char* error_detail();

}  // namespace sharpmax_rt
