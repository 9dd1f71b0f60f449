// Tests of the CPU grid runtime through its driver-API surface, the way the
// C# layer and C embedders call it.
#include "runtime_fixture.h"

namespace {

using namespace sharpmax_test;

TEST_F(Runtime, BlockBarriersGiveTheTreeSum) {
    const unsigned int blocks = 7, threads = 256;
    std::vector<int> in(blocks * threads);
    std::iota(in.begin(), in.end(), -300);
    SMdeviceptr d_in = upload(in), d_out = alloc(blocks * sizeof(int));
    ASSERT_OK(launch("test_block_sum_i32", blocks, threads, 0, {&d_in, &d_out}));
    std::vector<int> out = download<int>(d_out, blocks);
    for (unsigned int b = 0; b < blocks; ++b)
        EXPECT_EQ(out[b], std::accumulate(in.begin() + b * threads, in.begin() + (b + 1) * threads, 0)) << "block " << b;
}

TEST_F(Runtime, WarpShufflesAndBallotKeepTheirCudaMeaning) {
    const unsigned int threads = 128;
    std::vector<int> in(threads);
    for (unsigned int i = 0; i < threads; ++i) in[i] = static_cast<int>(i * 7 % 13);
    SMdeviceptr d_in = upload(in), d_xor = alloc(threads * 4), d_down = alloc(4 * 4), d_ballot = alloc(4 * 4);
    ASSERT_OK(launch("test_warp_ops_i32", 1, threads, 0, {&d_in, &d_xor, &d_down, &d_ballot}));
    std::vector<int> xor_sum = download<int>(d_xor, threads), down_sum = download<int>(d_down, 4);
    std::vector<unsigned int> ballot = download<unsigned int>(d_ballot, 4);
    for (unsigned int w = 0; w < 4; ++w) {
        int sum = 0;
        unsigned int odd = 0;
        for (unsigned int lane = 0; lane < 32; ++lane) {
            sum += in[w * 32 + lane];
            if (in[w * 32 + lane] & 1) odd |= 1u << lane;
        }
        EXPECT_EQ(down_sum[w], sum) << "warp " << w;
        EXPECT_EQ(ballot[w], odd) << "warp " << w;
        for (unsigned int lane = 0; lane < 32; ++lane) EXPECT_EQ(xor_sum[w * 32 + lane], sum) << "lane " << lane;
    }
}

TEST_F(Runtime, BlocksRunInParallelAndAtomicsCountEveryThread) {
    SMdeviceptr counter = alloc(sizeof(int));
    ASSERT_OK(launch("test_count_threads", 1000, 100, 0, {&counter}));
    EXPECT_EQ(download<int>(counter, 1)[0], 100000);
}

TEST_F(Runtime, RandomizedScheduleExposesAPlantedMissingBarrier) {
    const unsigned int threads = 64;
    std::vector<float> in(threads);
    std::iota(in.begin(), in.end(), 1.0f);
    std::vector<float> reversed(in.rbegin(), in.rend());
    SMdeviceptr d_in = upload(in), d_out = alloc(threads * sizeof(float));
    int with_barrier = 1, without_barrier = 0;
    int seeds_that_exposed_the_bug = 0;
    for (unsigned long long seed = 1; seed <= 8; ++seed) {
        ASSERT_OK(smhost_setScheduleSeed(seed));
        ASSERT_OK(launch("test_reverse_f32", 1, threads, threads * sizeof(float), {&d_in, &d_out, &with_barrier}));
        EXPECT_EQ(download<float>(d_out, threads), reversed) << "the correct kernel must not depend on the schedule (seed " << seed << ")";
        ASSERT_OK(launch("test_reverse_f32", 1, threads, threads * sizeof(float), {&d_in, &d_out, &without_barrier}));
        if (download<float>(d_out, threads) != reversed) ++seeds_that_exposed_the_bug;
    }
    EXPECT_EQ(seeds_that_exposed_the_bug, 8) << "every shuffled schedule reads shared memory before it is written";
}

TEST_F(Runtime, KernelExportedNoSyncThatSynchronizesFailsItsLaunch) {
    SMdeviceptr out = alloc(32 * sizeof(int));
    EXPECT_EQ(launch("test_lying_export", 1, 32, 0, {&out}), SMHOST_ERROR_LAUNCH_FAILED);
    EXPECT_NE(std::string(smhost_lastErrorDetail()).find("SHARPMAX_NO_SYNC"), std::string::npos) << smhost_lastErrorDetail();
    // A single-thread block has nobody to wait for: its barrier is legal.
    EXPECT_EQ(launch("test_lying_export", 1, 1, 0, {&out}), SMHOST_SUCCESS);
}

TEST_F(Runtime, DeadlockIsReportedNotHung) {
    SMdeviceptr out = alloc(32 * sizeof(int));
    EXPECT_EQ(launch("test_deadlock", 1, 32, 0, {&out}), SMHOST_ERROR_LAUNCH_FAILED);
    EXPECT_NE(std::string(smhost_lastErrorDetail()).find("deadlock"), std::string::npos) << smhost_lastErrorDetail();
    // The device still works afterwards.
    SMdeviceptr counter = alloc(sizeof(int));
    ASSERT_OK(launch("test_count_threads", 3, 32, 0, {&counter}));
    EXPECT_EQ(download<int>(counter, 1)[0], 96);
}

TEST_F(Runtime, IllegalLaunchConfigurationsFailLikeCuda) {
    SMdeviceptr counter = alloc(sizeof(int));
    SMfunction f = function("test_count_threads");
    void* args[] = {&counter};
    EXPECT_EQ(smhost_cuLaunchKernel(f, 1, 1, 1, 1025, 1, 1, 0, nullptr, args, nullptr), SMHOST_ERROR_INVALID_VALUE);
    EXPECT_EQ(smhost_cuLaunchKernel(f, 1, 1, 1, 32, 32, 2, 0, nullptr, args, nullptr), SMHOST_ERROR_INVALID_VALUE);
    EXPECT_EQ(smhost_cuLaunchKernel(f, 0, 1, 1, 32, 1, 1, 0, nullptr, args, nullptr), SMHOST_ERROR_INVALID_VALUE);
    EXPECT_EQ(smhost_cuLaunchKernel(f, 1, 65536, 1, 32, 1, 1, 0, nullptr, args, nullptr), SMHOST_ERROR_INVALID_VALUE);
    EXPECT_EQ(smhost_cuLaunchKernel(f, 1, 1, 1, 32, 1, 1, 48 * 1024 + 1, nullptr, args, nullptr), SMHOST_ERROR_INVALID_VALUE);
    EXPECT_NE(std::string(smhost_lastErrorDetail()).find("shared memory"), std::string::npos);
    // Opting in raises the limit, as on a GPU, up to the device's maximum.
    ASSERT_OK(smhost_cuFuncSetAttribute(f, SMHOST_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, 64 * 1024));
    ASSERT_OK(smhost_cuLaunchKernel(f, 1, 1, 1, 32, 1, 1, 48 * 1024 + 1, nullptr, args, nullptr));
    EXPECT_EQ(smhost_cuFuncSetAttribute(f, SMHOST_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, 1 << 20), SMHOST_ERROR_INVALID_VALUE);
    EXPECT_EQ(download<int>(counter, 1)[0], 32) << "only the legal launch ran";
}

TEST_F(Runtime, ModuleEntriesWithoutHostTwinAreRejected) {
    const char* ptx =
        ".version 7.8\n.target sm_70\n.address_size 64\n"
        ".visible .entry test_count_threads(\n.param .u64 p\n)\n{ ret; }\n"
        ".visible .entry no_such_kernel_f32(\n.param .u64 p\n)\n{ ret; }\n";
    SMmodule m = nullptr;
    EXPECT_EQ(smhost_cuModuleLoadDataEx(&m, ptx, 0, nullptr, nullptr), SMHOST_ERROR_NOT_FOUND);
    EXPECT_NE(std::string(smhost_lastErrorDetail()).find("no_such_kernel_f32"), std::string::npos);
    EXPECT_EQ(smhost_cuModuleLoadDataEx(&m, "not ptx", 0, nullptr, nullptr), SMHOST_ERROR_INVALID_IMAGE);

    const char* good = ".version 7.8\n.target sm_70\n.visible .entry test_count_threads(\n.param .u64 p\n)\n{ ret; }\n";
    ASSERT_OK(smhost_cuModuleLoadDataEx(&m, good, 0, nullptr, nullptr));
    SMfunction f = nullptr;
    ASSERT_OK(smhost_cuModuleGetFunction(&f, m, "test_count_threads"));
    EXPECT_EQ(smhost_cuModuleGetFunction(&f, m, "test_block_sum_i32"), SMHOST_ERROR_NOT_FOUND) << "only the PTX's entries are bound";
    ASSERT_OK(smhost_cuModuleUnload(m));
}

TEST_F(Runtime, MemoryIsTrackedAndCopiesAreBoundsChecked) {
    std::size_t before = 0, after = 0;
    ASSERT_OK(smhost_liveBytes(&before));
    SMdeviceptr p = 0;
    ASSERT_OK(smhost_cuMemAlloc_v2(&p, 1000));
    ASSERT_OK(smhost_liveBytes(&after));
    EXPECT_EQ(after - before, 1000u);
    EXPECT_EQ(p % 256, 0u) << "allocations are 256-byte aligned, as cuMemAlloc's";
    std::vector<unsigned char> host(1001, 7);
    EXPECT_EQ(smhost_cuMemcpyHtoD_v2(p, host.data(), 1001), SMHOST_ERROR_INVALID_VALUE);
    EXPECT_EQ(smhost_cuMemcpyDtoH_v2(host.data(), p + 1, 1000), SMHOST_ERROR_INVALID_VALUE);
    ASSERT_OK(smhost_cuMemsetD32_v2(p, 0x3f800000u, 250));
    std::vector<float> ones(250);
    ASSERT_OK(smhost_cuMemcpyDtoH_v2(ones.data(), p, 1000));
    EXPECT_EQ(ones, std::vector<float>(250, 1.0f));
    ASSERT_OK(smhost_cuMemFree_v2(p));
    EXPECT_EQ(smhost_cuMemFree_v2(p), SMHOST_ERROR_INVALID_VALUE) << "double free is an error, not a crash";
    ASSERT_OK(smhost_liveBytes(&after));
    EXPECT_EQ(after, before);
    EXPECT_EQ(smhost_cuMemAlloc_v2(&p, 0), SMHOST_ERROR_INVALID_VALUE);
}

TEST_F(Runtime, ErrorNamesMatchCuda) {
    const char* name = nullptr;
    ASSERT_OK(smhost_cuGetErrorName(SMHOST_ERROR_INVALID_VALUE, &name));
    EXPECT_STREQ(name, "CUDA_ERROR_INVALID_VALUE");
    ASSERT_OK(smhost_cuGetErrorName(SMHOST_ERROR_LAUNCH_FAILED, &name));
    EXPECT_STREQ(name, "CUDA_ERROR_LAUNCH_FAILED");
    EXPECT_EQ(smhost_cuGetErrorName(12345, &name), SMHOST_ERROR_INVALID_VALUE);
}

TEST_F(Runtime, EventsMeasureElapsedTime) {
    SMevent start = nullptr, end = nullptr;
    ASSERT_OK(smhost_cuEventCreate(&start, 0));
    ASSERT_OK(smhost_cuEventCreate(&end, 0));
    float ms = -1;
    EXPECT_EQ(smhost_cuEventElapsedTime(&ms, start, end), SMHOST_ERROR_INVALID_HANDLE) << "not recorded yet";
    ASSERT_OK(smhost_cuEventRecord(start, nullptr));
    SMdeviceptr counter = alloc(sizeof(int));
    ASSERT_OK(launch("test_count_threads", 64, 64, 0, {&counter}));
    ASSERT_OK(smhost_cuEventRecord(end, nullptr));
    ASSERT_OK(smhost_cuEventSynchronize(end));
    ASSERT_OK(smhost_cuEventElapsedTime(&ms, start, end));
    EXPECT_GE(ms, 0.0f);
    ASSERT_OK(smhost_cuEventDestroy_v2(start));
    ASSERT_OK(smhost_cuEventDestroy_v2(end));
}

}  // namespace
