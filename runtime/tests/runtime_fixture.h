// The fixture of the runtime's tests: device 0's primary context current,
// every host kernel bound, the checked mode on (as in every test run), and
// device memory that must all be freed by the end of the test.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <numeric>
#include <string>
#include <vector>

#include "sharpmax_host.h"

namespace sharpmax_test {

#define ASSERT_OK(call) ASSERT_EQ((call), SMHOST_SUCCESS) << #call << ": " << smhost_lastErrorDetail()

inline bool contains(const char* text, const char* part) { return std::string(text).find(part) != std::string::npos; }



class Runtime : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_OK(smhost_cuInit(0));
        ASSERT_OK(smhost_setCheckedMode(1));
        ASSERT_OK(smhost_setGpuProfile("sm_90"));
        ASSERT_OK(smhost_cuDevicePrimaryCtxRetain(&context_, 0));
        ASSERT_OK(smhost_cuCtxSetCurrent(context_));
        ASSERT_OK(smhost_cuModuleLoadDataEx(&module_, SMHOST_ALL_KERNELS_IMAGE, 0, nullptr, nullptr));
        ASSERT_OK(smhost_liveBytes(&live_at_start_));
    }
    void TearDown() override {
        for (SMdeviceptr p : allocations_) EXPECT_EQ(smhost_cuMemFree_v2(p), SMHOST_SUCCESS);
        std::size_t live = 0;
        EXPECT_EQ(smhost_liveBytes(&live), SMHOST_SUCCESS);
        EXPECT_EQ(live, live_at_start_) << "device memory leaked by the test";
        EXPECT_EQ(smhost_cuModuleUnload(module_), SMHOST_SUCCESS);
        EXPECT_EQ(smhost_cuDevicePrimaryCtxRelease_v2(0), SMHOST_SUCCESS);
        smhost_setScheduleSeed(0);
        smhost_setGpuProfile("sm_90");
    }

    template <typename T>
    SMdeviceptr upload(const std::vector<T>& values) {
        SMdeviceptr p = alloc(values.size() * sizeof(T));
        EXPECT_EQ(smhost_cuMemcpyHtoD_v2(p, values.data(), values.size() * sizeof(T)), SMHOST_SUCCESS);
        return p;
    }
    SMdeviceptr alloc(std::size_t bytes) {
        SMdeviceptr p = 0;
        EXPECT_EQ(smhost_cuMemAlloc_v2(&p, bytes), SMHOST_SUCCESS);
        EXPECT_EQ(smhost_cuMemsetD8_v2(p, 0, bytes), SMHOST_SUCCESS);
        allocations_.push_back(p);
        return p;
    }
    template <typename T>
    std::vector<T> download(SMdeviceptr p, std::size_t count) {
        std::vector<T> values(count);
        EXPECT_EQ(smhost_cuMemcpyDtoH_v2(values.data(), p, count * sizeof(T)), SMHOST_SUCCESS);
        return values;
    }
    SMfunction function(const char* name) {
        SMfunction f = nullptr;
        EXPECT_EQ(smhost_cuModuleGetFunction(&f, module_, name), SMHOST_SUCCESS) << name;
        return f;
    }
    SMresult launch(const char* name, unsigned int grid, unsigned int block, unsigned int shared, std::vector<void*> args) {
        return smhost_cuLaunchKernel(function(name), grid, 1, 1, block, 1, 1, shared, nullptr, args.data(), nullptr);
    }

    SMcontext context_ = nullptr;
    SMmodule module_ = nullptr;
    std::size_t live_at_start_ = 0;
    std::vector<SMdeviceptr> allocations_;
};

}  // namespace sharpmax_test
