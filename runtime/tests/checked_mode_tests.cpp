// The checked mode: each planted fault (runtime/tests/test_kernels.cpp) fails
// its launch with the error a GPU (or compute-sanitizer) would give, where the
// plain CPU device would run on or crash; the GPU profile sets the limits.
#include "runtime_fixture.h"

namespace {

using namespace sharpmax_test;

TEST_F(Runtime, ShuffleFromALaneOutsideItsMaskFails) {
    SMdeviceptr out = alloc(32 * sizeof(int));
    EXPECT_EQ(launch("test_fault_caller_not_in_mask", 1, 32, 0, {&out}), SMHOST_ERROR_ILLEGAL_INSTRUCTION);
    EXPECT_TRUE(contains(smhost_lastErrorDetail(), "lane 0 of warp 0")) << smhost_lastErrorDetail();
    ASSERT_OK(smhost_setCheckedMode(0));
    EXPECT_EQ(launch("test_fault_caller_not_in_mask", 1, 32, 0, {&out}), SMHOST_SUCCESS) << "unchecked, the mask is ignored";
}

TEST_F(Runtime, MaskNamingAnExitedLaneFails) {
    SMdeviceptr out = alloc(64 * sizeof(int));
    EXPECT_EQ(launch("test_fault_exited_lane_in_mask", 1, 64, 0, {&out}), SMHOST_ERROR_ILLEGAL_INSTRUCTION);
    EXPECT_TRUE(contains(smhost_lastErrorDetail(), "names lane 16, which has exited")) << smhost_lastErrorDetail();
}

TEST_F(Runtime, MaskNamingLanesTheBlockDoesNotHaveFails) {
    // test_warp_ops_i32 uses full masks: a 16-thread block has no lanes 16..31.
    SMdeviceptr in = alloc(16 * 4), a = alloc(16 * 4), b = alloc(4), c = alloc(4);
    EXPECT_EQ(launch("test_warp_ops_i32", 1, 16, 0, {&in, &a, &b, &c}), SMHOST_ERROR_ILLEGAL_INSTRUCTION);
    EXPECT_TRUE(contains(smhost_lastErrorDetail(), "does not have (16 threads)")) << smhost_lastErrorDetail();
}

TEST_F(Runtime, LanesAtDifferentVotesAreADivergedWarp) {
    SMdeviceptr out = alloc(32 * sizeof(unsigned int));
    EXPECT_EQ(launch("test_fault_diverged_vote", 1, 32, 0, {&out}), SMHOST_ERROR_ILLEGAL_INSTRUCTION);
    EXPECT_TRUE(contains(smhost_lastErrorDetail(), "diverged")) << smhost_lastErrorDetail();
}

TEST_F(Runtime, AMaskNamingExactlyTheCallingLanesIsLegal) {
    SMdeviceptr out = alloc(32 * sizeof(unsigned int));
    ASSERT_OK(launch("test_half_warp_vote", 1, 32, 0, {&out}));
    std::vector<unsigned int> got = download<unsigned int>(out, 16);
    for (unsigned int lane = 0; lane < 16; ++lane) EXPECT_EQ(got[lane], 0x0000aaaau) << "lane " << lane;
}

TEST_F(Runtime, DynamicSharedMemoryOverrunFailsTheLaunchNamingTheKernel) {
    SMdeviceptr out = alloc(sizeof(float));
    int n = 300;  // floats written; the launch gives 256 of them
    EXPECT_EQ(launch("test_fault_dynamic_shared_overrun", 1, 64, 256 * 4, {&out, &n}), SMHOST_ERROR_ILLEGAL_ADDRESS);
    EXPECT_TRUE(contains(smhost_lastErrorDetail(), "test_fault_dynamic_shared_overrun")) << smhost_lastErrorDetail();
    EXPECT_TRUE(contains(smhost_lastErrorDetail(), "past the 1024 bytes of dynamic shared memory")) << smhost_lastErrorDetail();
    n = 256;
    ASSERT_OK(launch("test_fault_dynamic_shared_overrun", 1, 64, 256 * 4, {&out, &n}));
    EXPECT_EQ(download<float>(out, 1)[0], 1.0f);
}

TEST_F(Runtime, AFarDynamicSharedMemoryOverrunStillFailsTheLaunch) {
    // 12 000 bytes past the end: beyond the part of the guard checked after
    // each block, inside the part checked after the worker's last block.
    SMdeviceptr out = alloc(sizeof(float));
    int index = 256 + 3000;
    EXPECT_EQ(launch("test_fault_dynamic_shared_far_write", 4, 32, 256 * 4, {&out, &index}), SMHOST_ERROR_ILLEGAL_ADDRESS);
    EXPECT_TRUE(contains(smhost_lastErrorDetail(), "(a block of this launch) wrote shared memory 12000 bytes past the 1024 bytes"))
        << smhost_lastErrorDetail();
    index = 255;
    ASSERT_OK(launch("test_fault_dynamic_shared_far_write", 4, 32, 256 * 4, {&out, &index})) << "the guard was re-armed";
}

TEST_F(Runtime, UncheckedBlocksWritingWhereTheGuardWasDoNotFailTheNextCheckedLaunch) {
    SMdeviceptr out = alloc(sizeof(float));
    int n = 256;
    ASSERT_OK(launch("test_fault_dynamic_shared_overrun", 1, 64, 256 * 4, {&out, &n}));
    ASSERT_OK(smhost_setCheckedMode(0));
    int wide = 2048;  // a legal launch with more shared memory writes over the old guard
    ASSERT_OK(launch("test_fault_dynamic_shared_overrun", 1, 64, 2048 * 4, {&out, &wide}));
    ASSERT_OK(smhost_setCheckedMode(1));
    EXPECT_EQ(launch("test_fault_dynamic_shared_overrun", 1, 64, 256 * 4, {&out, &n}), SMHOST_SUCCESS) << smhost_lastErrorDetail();
}

TEST_F(Runtime, DeviceWritePastAnAllocationIsAnIllegalAddress) {
    SMdeviceptr out = alloc(10 * sizeof(int));
    int n = 10;
    EXPECT_EQ(launch("test_fault_device_write_past_end", 1, 1, 0, {&out, &n}), SMHOST_ERROR_ILLEGAL_ADDRESS);
    EXPECT_TRUE(contains(smhost_lastErrorDetail(), "past the end of the 40-byte device allocation")) << smhost_lastErrorDetail();
    n = 9;
    ASSERT_OK(launch("test_fault_device_write_past_end", 1, 1, 0, {&out, &n})) << "the redzone was restored";
    EXPECT_EQ(download<int>(out, 10)[9], 1);
}

TEST_F(Runtime, DynamicSharedMemoryStartsAsNaNInTheCheckedMode) {
    // test_reverse_f32 without its barrier reads slots other threads have not
    // written yet: in index order the first half reads poison, not zeros.
    const unsigned int threads = 64;
    std::vector<float> in(threads, 2.0f);
    SMdeviceptr d_in = upload(in), d_out = alloc(threads * sizeof(float));
    int without_barrier = 0;
    ASSERT_OK(launch("test_reverse_f32", 1, threads, threads * sizeof(float), {&d_in, &d_out, &without_barrier}));
    std::vector<float> out = download<float>(d_out, threads);
    EXPECT_TRUE(std::isnan(out[0])) << out[0];
    EXPECT_EQ(out[threads - 1], 2.0f);
}

TEST_F(Runtime, StaticSharedMemoryStartsAsNaNInEveryBlockInTheCheckedMode) {
    // One worker runs the blocks one after the other, so each block finds the
    // slots the block before it wrote: poisoned, it reads NaN all the same.
    const unsigned int blocks = 3, threads = 32;
    SMdeviceptr out = alloc(blocks * threads * sizeof(float));
    ASSERT_OK(smhost_setWorkerCount(1));
    SMresult checked = launch("test_fault_static_shared_read_before_write", blocks, threads, 0, {&out});
    std::vector<float> got = download<float>(out, blocks * threads);
    ASSERT_OK(smhost_setCheckedMode(0));
    SMresult unchecked = launch("test_fault_static_shared_read_before_write", blocks, threads, 0, {&out});
    std::vector<float> stale = download<float>(out, blocks * threads);
    ASSERT_OK(smhost_setWorkerCount(0));
    ASSERT_OK(checked);
    ASSERT_OK(unchecked);
    for (unsigned int i = 0; i < blocks * threads; ++i) EXPECT_TRUE(std::isnan(got[i])) << "element " << i << ": " << got[i];
    for (unsigned int i = threads; i < blocks * threads; ++i)
        EXPECT_EQ(stale[i], 1.0f) << "unchecked, block " << i / threads << " reads the previous block's value";
}

TEST_F(Runtime, AScheduleSeedPoisonsStaticSharedMemoryToo) {
    const unsigned int blocks = 2, threads = 32;
    SMdeviceptr out = alloc(blocks * threads * sizeof(float));
    ASSERT_OK(smhost_setCheckedMode(0));
    ASSERT_OK(smhost_setScheduleSeed(7));
    ASSERT_OK(launch("test_fault_static_shared_read_before_write", blocks, threads, 0, {&out}));
    std::vector<float> got = download<float>(out, blocks * threads);
    for (unsigned int i = 0; i < blocks * threads; ++i) EXPECT_TRUE(std::isnan(got[i])) << "element " << i << ": " << got[i];
}

TEST_F(Runtime, DeviceAttributesFollowTheGpuProfile) {
    int v = 0;
    EXPECT_STREQ(smhost_gpuProfile(), "sm_90");
    ASSERT_OK(smhost_cuDeviceGetAttribute(&v, SMHOST_ATTR_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN, 0));
    EXPECT_EQ(v, 227 * 1024);
    ASSERT_OK(smhost_cuDeviceGetAttribute(&v, SMHOST_ATTR_MAX_SHARED_MEMORY_PER_BLOCK, 0));
    EXPECT_EQ(v, 48 * 1024);
    ASSERT_OK(smhost_cuDeviceGetAttribute(&v, SMHOST_ATTR_MAX_REGISTERS_PER_BLOCK, 0));
    EXPECT_EQ(v, 65536);
    ASSERT_OK(smhost_cuDeviceGetAttribute(&v, SMHOST_ATTR_MAX_THREADS_PER_BLOCK, 0));
    EXPECT_EQ(v, 1024);
    ASSERT_OK(smhost_cuDeviceGetAttribute(&v, SMHOST_ATTR_COMPUTE_CAPABILITY_MAJOR, 0));
    EXPECT_EQ(v, 9);

    ASSERT_OK(smhost_setGpuProfile("sm_80"));
    ASSERT_OK(smhost_cuDeviceGetAttribute(&v, SMHOST_ATTR_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN, 0));
    EXPECT_EQ(v, 163 * 1024);
    ASSERT_OK(smhost_cuDeviceGetAttribute(&v, SMHOST_ATTR_COMPUTE_CAPABILITY_MAJOR, 0));
    EXPECT_EQ(v, 8);
    // The opt-in follows: 200 KiB fit sm_90, not sm_80.
    SMfunction f = function("test_count_threads");
    EXPECT_EQ(smhost_cuFuncSetAttribute(f, SMHOST_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, 200 * 1024), SMHOST_ERROR_INVALID_VALUE);
    EXPECT_TRUE(contains(smhost_lastErrorDetail(), "sm_80")) << smhost_lastErrorDetail();
    ASSERT_OK(smhost_setGpuProfile("sm_90"));
    ASSERT_OK(smhost_cuFuncSetAttribute(f, SMHOST_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, 200 * 1024));
    SMdeviceptr counter = alloc(sizeof(int));
    void* args[] = {&counter};
    ASSERT_OK(smhost_cuLaunchKernel(f, 1, 1, 1, 32, 1, 1, 200 * 1024, nullptr, args, nullptr));
    // Lowering the profile under a raised attribute: the launch checks the sum again.
    ASSERT_OK(smhost_setGpuProfile("sm_86"));
    EXPECT_EQ(smhost_cuLaunchKernel(f, 1, 1, 1, 32, 1, 1, 200 * 1024, nullptr, args, nullptr), SMHOST_ERROR_INVALID_VALUE);

    EXPECT_EQ(smhost_setGpuProfile("sm_99"), SMHOST_ERROR_INVALID_VALUE);
    EXPECT_TRUE(contains(smhost_lastErrorDetail(), "sm_90")) << "the detail lists the known profiles: " << smhost_lastErrorDetail();
    EXPECT_EQ(smhost_setGpuProfile(nullptr), SMHOST_ERROR_INVALID_VALUE);
    EXPECT_STREQ(smhost_gpuProfile(), "sm_86");
}

}  // namespace
