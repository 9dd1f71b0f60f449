// The driver's rules at the C surface: sizes that overflow, handles that are
// bogus or stale, calls without a current context, and the detail sentence
// each call leaves behind.
#include "runtime_fixture.h"

#include <cstdint>
#include <thread>

namespace {

using namespace sharpmax_test;

TEST_F(Runtime, AllocationSizesThatOverflowAreOutOfMemory) {
    std::size_t before = 0, after = 0;
    ASSERT_OK(smhost_liveBytes(&before));
    SMdeviceptr p = 0;
    EXPECT_EQ(smhost_cuMemAlloc_v2(&p, SIZE_MAX - 10), SMHOST_ERROR_OUT_OF_MEMORY);
    EXPECT_TRUE(contains(smhost_lastErrorDetail(), "cuMemAlloc")) << smhost_lastErrorDetail();
    EXPECT_EQ(smhost_cuMemAlloc_v2(&p, SIZE_MAX), SMHOST_ERROR_OUT_OF_MEMORY);
    EXPECT_EQ(smhost_cuMemAlloc_v2(&p, (std::size_t{16} << 30) + 1), SMHOST_ERROR_OUT_OF_MEMORY) << "more than the device's memory";
    ASSERT_OK(smhost_liveBytes(&after));
    EXPECT_EQ(after, before) << "no failed allocation is counted";
}

TEST_F(Runtime, CopyAndMemsetRangesThatOverflowAreInvalidValues) {
    SMdeviceptr p = alloc(64);
    std::vector<unsigned char> host(64);
    EXPECT_EQ(smhost_cuMemcpyDtoH_v2(host.data(), p + 16, SIZE_MAX - 15), SMHOST_ERROR_INVALID_VALUE);
    EXPECT_EQ(smhost_cuMemcpyHtoD_v2(p + 16, host.data(), SIZE_MAX - 15), SMHOST_ERROR_INVALID_VALUE);
    EXPECT_EQ(smhost_cuMemcpyDtoD_v2(p, p + 16, SIZE_MAX - 15), SMHOST_ERROR_INVALID_VALUE);
    EXPECT_EQ(smhost_cuMemsetD8_v2(p + 1, 0, SIZE_MAX), SMHOST_ERROR_INVALID_VALUE);
    EXPECT_EQ(smhost_cuMemsetD32_v2(p, 0, std::size_t{1} << 62), SMHOST_ERROR_INVALID_VALUE);
    EXPECT_TRUE(contains(smhost_lastErrorDetail(), "cuMemsetD32")) << smhost_lastErrorDetail();
    EXPECT_EQ(smhost_cuMemsetD32_v2(p, 0, 17), SMHOST_ERROR_INVALID_VALUE) << "68 bytes into 64";
    EXPECT_EQ(smhost_cuMemcpyDtoH_v2(host.data(), p + 64, 1), SMHOST_ERROR_INVALID_VALUE) << "one past the end";
    ASSERT_OK(smhost_cuMemcpyDtoH_v2(host.data(), p + 63, 1));
}

TEST_F(Runtime, BogusAndStaleHandlesAreInvalidHandles) {
    SMmodule m = nullptr;
    ASSERT_OK(smhost_cuModuleLoadDataEx(&m, SMHOST_ALL_KERNELS_IMAGE, 0, nullptr, nullptr));
    SMfunction f = nullptr;
    ASSERT_OK(smhost_cuModuleGetFunction(&f, m, "test_count_threads"));
    SMdeviceptr counter = alloc(sizeof(int));
    void* args[] = {&counter};
    ASSERT_OK(smhost_cuLaunchKernel(f, 1, 1, 1, 1, 1, 1, 0, nullptr, args, nullptr));
    ASSERT_OK(smhost_cuModuleUnload(m));
    int value = 0;
    EXPECT_EQ(smhost_cuLaunchKernel(f, 1, 1, 1, 1, 1, 1, 0, nullptr, args, nullptr), SMHOST_ERROR_INVALID_HANDLE) << "function of an unloaded module";
    EXPECT_EQ(smhost_cuFuncGetAttribute(&value, SMHOST_FUNC_ATTRIBUTE_NUM_REGS, f), SMHOST_ERROR_INVALID_HANDLE);
    EXPECT_EQ(smhost_cuFuncSetAttribute(f, SMHOST_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, 0), SMHOST_ERROR_INVALID_HANDLE);
    EXPECT_EQ(smhost_cuModuleGetFunction(&f, m, "test_count_threads"), SMHOST_ERROR_INVALID_HANDLE);
    EXPECT_EQ(smhost_cuModuleUnload(m), SMHOST_ERROR_INVALID_HANDLE) << "double unload";
    // A new module reuses the slot: the old handles must stay dead.
    SMmodule again = nullptr;
    ASSERT_OK(smhost_cuModuleLoadDataEx(&again, SMHOST_ALL_KERNELS_IMAGE, 0, nullptr, nullptr));
    EXPECT_EQ(smhost_cuLaunchKernel(f, 1, 1, 1, 1, 1, 1, 0, nullptr, args, nullptr), SMHOST_ERROR_INVALID_HANDLE);
    EXPECT_EQ(smhost_cuModuleUnload(m), SMHOST_ERROR_INVALID_HANDLE);
    ASSERT_OK(smhost_cuModuleUnload(again));

    auto* bogus_function = reinterpret_cast<SMfunction>(std::uintptr_t{0xdeadbeef});
    auto* bogus_module = reinterpret_cast<SMmodule>(std::uintptr_t{0x1234});
    auto* bogus_event = reinterpret_cast<SMevent>(std::uintptr_t{0x42});
    EXPECT_EQ(smhost_cuLaunchKernel(bogus_function, 1, 1, 1, 1, 1, 1, 0, nullptr, args, nullptr), SMHOST_ERROR_INVALID_HANDLE);
    EXPECT_EQ(smhost_cuLaunchKernel(nullptr, 1, 1, 1, 1, 1, 1, 0, nullptr, args, nullptr), SMHOST_ERROR_INVALID_HANDLE);
    EXPECT_EQ(smhost_cuModuleGetFunction(&f, bogus_module, "x"), SMHOST_ERROR_INVALID_HANDLE);
    EXPECT_EQ(smhost_cuEventRecord(bogus_event, nullptr), SMHOST_ERROR_INVALID_HANDLE);
    // A handle of another kind is not taken for this one.
    EXPECT_EQ(smhost_cuLaunchKernel(reinterpret_cast<SMfunction>(module_), 1, 1, 1, 1, 1, 1, 0, nullptr, args, nullptr),
              SMHOST_ERROR_INVALID_HANDLE);
    EXPECT_EQ(download<int>(counter, 1)[0], 1) << "only the first launch ran";
}

TEST_F(Runtime, CallsWithoutACurrentContextAreInvalidContext) {
    SMfunction f = function("test_count_threads");
    SMdeviceptr counter = alloc(sizeof(int));
    // A worker thread that forgot cuCtxSetCurrent, as a GPU sees it.
    std::vector<SMresult> results;
    std::thread worker([&] {
        SMdeviceptr p = 0;
        SMmodule m = nullptr;
        SMevent e = nullptr;
        void* args[] = {&counter};
        int v = 0;
        std::size_t free_bytes = 0, total = 0;
        results = {smhost_cuMemAlloc_v2(&p, 16),
                   smhost_cuMemFree_v2(counter),
                   smhost_cuMemcpyHtoD_v2(counter, &v, 4),
                   smhost_cuMemcpyDtoH_v2(&v, counter, 4),
                   smhost_cuMemsetD32_v2(counter, 0, 1),
                   smhost_cuModuleLoadDataEx(&m, SMHOST_ALL_KERNELS_IMAGE, 0, nullptr, nullptr),
                   smhost_cuLaunchKernel(f, 1, 1, 1, 1, 1, 1, 0, nullptr, args, nullptr),
                   smhost_cuCtxSynchronize(),
                   smhost_cuMemGetInfo_v2(&free_bytes, &total),
                   smhost_cuEventCreate(&e, 0)};
        EXPECT_TRUE(contains(smhost_lastErrorDetail(), "cuCtxSetCurrent")) << smhost_lastErrorDetail();
        // Device queries need no context.
        EXPECT_EQ(smhost_cuDeviceGetAttribute(&v, SMHOST_ATTR_WARP_SIZE, 0), SMHOST_SUCCESS);
        SMcontext ctx = nullptr;
        EXPECT_EQ(smhost_cuCtxGetCurrent(&ctx), SMHOST_SUCCESS);
        EXPECT_EQ(ctx, nullptr);
        // After cuCtxSetCurrent the same thread may allocate.
        EXPECT_EQ(smhost_cuCtxSetCurrent(context_), SMHOST_SUCCESS);
        EXPECT_EQ(smhost_cuMemAlloc_v2(&p, 16), SMHOST_SUCCESS);
        EXPECT_EQ(smhost_cuMemFree_v2(p), SMHOST_SUCCESS);
    });
    worker.join();
    for (std::size_t i = 0; i < results.size(); ++i) EXPECT_EQ(results[i], SMHOST_ERROR_INVALID_CONTEXT) << "call " << i;
    EXPECT_EQ(download<int>(counter, 1)[0], 0) << "the launch without a context did not run";
}

TEST_F(Runtime, ReleasedPrimaryContextIsNotUsable) {
    SMcontext extra = nullptr;
    ASSERT_OK(smhost_cuDevicePrimaryCtxRetain(&extra, 0));
    ASSERT_OK(smhost_cuDevicePrimaryCtxRelease_v2(0));
    ASSERT_OK(smhost_cuDevicePrimaryCtxRelease_v2(0));  // the fixture's retain too: none left
    SMdeviceptr p = 0;
    EXPECT_EQ(smhost_cuMemAlloc_v2(&p, 16), SMHOST_ERROR_INVALID_CONTEXT);
    ASSERT_OK(smhost_cuDevicePrimaryCtxRetain(&extra, 0));  // for TearDown's release
}

TEST_F(Runtime, EveryCallLeavesItsOwnDetail) {
    SMdeviceptr p = alloc(16);
    // A failure that used to leave a stale sentence from another call.
    EXPECT_EQ(smhost_cuMemcpyHtoD_v2(p, nullptr, 4), SMHOST_ERROR_INVALID_VALUE);
    EXPECT_TRUE(contains(smhost_lastErrorDetail(), "cuMemcpyHtoD: source is NULL")) << smhost_lastErrorDetail();
    EXPECT_EQ(smhost_cuMemcpyDtoH_v2(nullptr, p, 4), SMHOST_ERROR_INVALID_VALUE);
    EXPECT_STREQ(smhost_lastErrorDetail(), "cuMemcpyDtoH: destination is NULL");
    // A success clears it.
    int v = 0;
    ASSERT_OK(smhost_cuMemcpyDtoH_v2(&v, p, 4));
    EXPECT_STREQ(smhost_lastErrorDetail(), "");
    // Calls that returned a bare code before now say why.
    EXPECT_EQ(smhost_cuDeviceGet(nullptr, 0), SMHOST_ERROR_INVALID_VALUE);
    EXPECT_STREQ(smhost_lastErrorDetail(), "cuDeviceGet: device is NULL");
    EXPECT_EQ(smhost_cuDeviceGetAttribute(&v, SMHOST_ATTR_WARP_SIZE, 3), SMHOST_ERROR_INVALID_DEVICE);
    EXPECT_TRUE(contains(smhost_lastErrorDetail(), "cuDeviceGetAttribute: device 3")) << smhost_lastErrorDetail();
    EXPECT_EQ(smhost_cuEventDestroy_v2(nullptr), SMHOST_ERROR_INVALID_HANDLE);
    EXPECT_STREQ(smhost_lastErrorDetail(), "cuEventDestroy: not a live event");
    EXPECT_EQ(smhost_cuMemFree_v2(p + 4), SMHOST_ERROR_INVALID_VALUE);
    EXPECT_TRUE(contains(smhost_lastErrorDetail(), "cuMemFree:")) << smhost_lastErrorDetail();
    EXPECT_EQ(launch("test_lying_export", 1, 32, 0, {&p}), SMHOST_ERROR_LAUNCH_FAILED);
    EXPECT_TRUE(contains(smhost_lastErrorDetail(), "cuLaunchKernel: kernel 'test_lying_export'")) << smhost_lastErrorDetail();
    ASSERT_OK(smhost_liveBytes(nullptr) == SMHOST_ERROR_INVALID_VALUE ? SMHOST_SUCCESS : SMHOST_ERROR_UNKNOWN);
    EXPECT_STREQ(smhost_lastErrorDetail(), "smhost_liveBytes: bytes is NULL");
}

}  // namespace
