// What a GPU driver reads from a PTX image besides the code: per entry, its
// static shared memory and its __launch_bounds__ (.maxntid / .reqntid).
#pragma once

#include <string>
#include <vector>

namespace sharpmax_rt {

struct PtxEntryInfo {
    std::string name;
    int static_shared_bytes = 0;  // .shared declarations of the entry and module-scope ones it names
    int max_threads = 0;          // product of .maxntid or .reqntid, 0 when absent
};

struct PtxInfo {
    int target_arch = 0;  // .target sm_70 / compute_70 → 70
    std::vector<PtxEntryInfo> entries;
};

// Parses `ptx`; false (with a sentence in `error`) when it is not PTX text.
bool parse_ptx(const std::string& ptx, PtxInfo& info, std::string& error);

}  // namespace sharpmax_rt
