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
    void* kernel;
    KernelInvoker invoker;
    bool synchronizes;  // SHARPMAX_SYNC: run the block's threads as fibers
};

// Kernels compiled into this library, registered by SHARPMAX_EXPORT.
const KernelEntry* find_kernel(const std::string& name);
std::vector<const KernelEntry*> all_kernels();

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
