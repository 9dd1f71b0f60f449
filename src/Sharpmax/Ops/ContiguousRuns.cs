namespace Sharpmax.Ops;

/// <summary>
/// Launch shape for the element-wise kernels (sgd.cu, gather.cu, accuracy.cu), in which each thread handles a
/// contiguous run of ⌈count / threads⌉ elements. On a GPU: one thread per element (runs of one, coalesced). On the
/// CPU device: a few blocks of one thread whose runs are long enough to vectorize and to outweigh the cost of
/// handing a block to a worker, but no more blocks than the workers can share evenly.
/// </summary>
internal static class ContiguousRuns
{
    internal const int CudaBlock = 256;
    private const long CpuElementsPerThread = 16384;
    private const int CpuBlocksPerCore = 2;

    public static (Dim3 Grid, Dim3 Block) For(Device device, long count)
    {
        if (device.Kind == DeviceKind.Cuda)
            return ((int)Math.Min(int.MaxValue, Math.Max(1, (count + CudaBlock - 1) / CudaBlock)), CudaBlock);
        long threads = Math.Clamp((count + CpuElementsPerThread - 1) / CpuElementsPerThread, 1,
            Math.Max(1, device.MultiprocessorCount) * CpuBlocksPerCore);
        return ((int)threads, 1);
    }
}
