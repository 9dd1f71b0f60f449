namespace Sharpmax.Ops;

/// <summary>
/// The largest block each op launches each kernel with, per device kind, from the constants the planners use.
/// A test checks every entry against the kernel's launch bounds (<see cref="Kernel.MaxThreadsPerBlock"/>, the PTX's
/// <c>.maxntid</c>), which tests/check-ptx.sh in turn checks against the register file: together, no launch the
/// C# side makes can exceed what the GPU can run. Keep it next to the planners when a launch shape changes.
/// </summary>
internal static class LaunchShapes
{
    /// <summary>(kernel, most threads per block) for every kernel launched on a device of <paramref name="kind"/>.</summary>
    public static IEnumerable<(string Kernel, int MaxBlock)> Largest(DeviceKind kind)
    {
        bool cuda = kind == DeviceKind.Cuda;
        int threadPerRow = cuda ? RowDispatch.CudaRowsPerBlock : RowDispatch.CpuMaxRowsPerBlock;
        foreach (var family in new[] { "softmax_forward_f32", "xent_fused_forward_backward_f32" })
        {
            yield return ($"{family}_row", threadPerRow);
            foreach (var size in new[] { 32, 256, 1024 })
                yield return ($"{family}_warp{size}", 32 * RowDispatch.WarpsPerBlock);
            yield return ($"{family}_block", RowDispatch.MaxRowBlockThreads);
            yield return ($"{family}_online", RowDispatch.MaxRowBlockThreads);
        }
        foreach (var kernel in new[] { "softmax_rowmax_f32", "softmax_expsum_f32", "softmax_normalize_f32", "xent_log_f32", "xent_nll_gather_f32", "xent_backward_f32" })
            yield return (kernel, threadPerRow);
        foreach (var kernel in new[] { "xent_count_valid_i32", "xent_weight_sum_f32", "xent_reduce_f32" })
            yield return (kernel, cuda ? RowDispatch.CudaReduceThreads : 1);
        foreach (var kernel in new[] { "sgd_update_f32", "argmax_forward_f32", "accuracy_forward_f32", "gather_forward_i32", "relu_forward_f32", "relu_backward_f32" })
            yield return (kernel, cuda ? ContiguousRuns.CudaBlock : 1);
        foreach (var product in new[] { "linear_forward_f32", "linear_forward_u8", "linear_backward_input_f32", "linear_backward_weight_f32", "linear_backward_weight_u8", "linear_relu_forward_f32", "linear_relu_forward_u8", "linear_backward_input_relu_f32" })
        {
            yield return ($"{product}_naive", Linear.NaiveBlock);
            yield return ($"{product}_smem", Linear.SmemBlock);
        }
        yield return ("linear_backward_bias_f32", Linear.NaiveBlock);
        if (!cuda)
            foreach (var product in new[] { "linear_forward_f32", "linear_forward_u8", "linear_backward_input_f32", "linear_backward_weight_f32", "linear_backward_weight_u8", "linear_relu_forward_f32", "linear_relu_forward_u8", "linear_backward_input_relu_f32" })
                yield return ($"{product}_simd", Linear.SimdBlock);
    }
}
