namespace Sharpmax.Ops;

/// <summary>Which fused row kernel of softmax.cu or cross_entropy.cu runs (see <see cref="RowDispatch"/> for the rules).</summary>
public enum RowKernelVariant
{
    /// <summary>Chosen by device kind and row length.</summary>
    Auto,

    /// <summary>One thread per row, no barrier (<c>_row</c>): the CPU device's kernel.</summary>
    Row,

    /// <summary>One warp per row, the row in registers (<c>_warp32</c>, <c>_warp256</c>, <c>_warp1024</c>); C ≤ 1024.</summary>
    Warp,

    /// <summary>One block per row, the row cached in dynamic shared memory (<c>_block</c>); 4·C bytes plus the kernel's
    /// static shared memory (128 bytes for softmax, 256 for cross-entropy) must fit the device's opt-in limit.</summary>
    Block,

    /// <summary>One block per row, streaming online softmax (<c>_online</c>); any C.</summary>
    Online,
}

/// <summary>A planned launch of a row kernel.</summary>
internal readonly record struct RowLaunch(string KernelName, Dim3 Grid, Dim3 Block, int SharedBytes);

/// <summary>The last plan of an op, so that a training loop calling it with one shape builds no strings per batch.</summary>
internal struct RowPlanCache
{
    private RowLaunch _plan;
    private int _n;
    private int _c;
    private RowKernelVariant _variant;
    private bool _valid;

    public RowLaunch Get(Device device, string family, RowKernelVariant variant, int n, int c)
    {
        if (!_valid || n != _n || c != _c || variant != _variant)
        {
            _plan = RowDispatch.Plan(device, family, variant, n, c);
            (_n, _c, _variant, _valid) = (n, c, variant, true);
        }
        return _plan;
    }
}

/// <summary>
/// Dispatch rules shared by the softmax and cross-entropy ops (also written at the top of the .cu files):
/// <list type="bullet">
/// <item>CPU device: always the thread-per-row kernel. Its block's threads run as plain calls (no fibers), its row
/// loops compile to SIMD. Rows go a few blocks per core, but a block gets at least 32 Ki elements: below that the
/// whole grid is one block, run on the calling thread without waking a worker.</item>
/// <item>CUDA: C ≤ 1024 → a warp per row (32, 256 or 1024 columns per warp: 1, 8 or 32 values per lane);
/// 4·C bytes of dynamic shared memory plus the block kernel's static shared memory within the opt-in limit → a
/// block per row with the row in shared memory;
/// otherwise → a block per row streaming the row twice (online softmax).</item>
/// </list>
/// A requested variant overrides the rule (tests and the bench run every variant on every device).
/// </summary>
internal static class RowDispatch
{
    /// <summary>Longest row the warp kernels hold in registers.</summary>
    public const int WarpMaxColumns = 1024;

    internal const int WarpsPerBlock = 4;
    internal const int CudaRowsPerBlock = 128;
    internal const int CpuMaxRowsPerBlock = 1024;
    private const int CpuMinBlockElements = 32 * 1024;
    private const int CpuBlocksPerCore = 4;

    /// <summary>The variant that runs for <paramref name="requested"/> on this device and row length; the block
    /// kernel of <paramref name="family"/> counts its static shared memory as the driver reports it.</summary>
    /// <exception cref="ArgumentException">The requested variant cannot run rows of length <paramref name="c"/>.</exception>
    public static RowKernelVariant Resolve(Device device, string family, RowKernelVariant requested, int c)
    {
        bool blockMayRun = requested is RowKernelVariant.Block || (requested is RowKernelVariant.Auto && device.Kind == DeviceKind.Cuda && c > WarpMaxColumns);
        int staticShared = blockMayRun ? device.Kernel($"{family}_block").StaticSharedBytes : 0;
        return Resolve(device.Kind, device.MaxSharedBytesPerBlockOptIn, staticShared, requested, c);
    }

    /// <summary>The rule itself, for a device of <paramref name="kind"/> allowing <paramref name="sharedBytesOptIn"/>
    /// bytes of shared memory per block, whose block kernel has <paramref name="blockStaticSharedBytes"/> bytes of
    /// static shared memory besides the 4·C bytes of the row.</summary>
    /// <exception cref="ArgumentException">The requested variant cannot run rows of length <paramref name="c"/>.</exception>
    public static RowKernelVariant Resolve(DeviceKind kind, int sharedBytesOptIn, int blockStaticSharedBytes, RowKernelVariant requested, int c)
    {
        long blockBytes = (long)c * sizeof(float) + blockStaticSharedBytes;
        switch (requested)
        {
            case RowKernelVariant.Auto when kind == DeviceKind.Cpu:
                return RowKernelVariant.Row;
            case RowKernelVariant.Auto:
                if (c <= WarpMaxColumns)
                    return RowKernelVariant.Warp;
                return blockBytes <= sharedBytesOptIn ? RowKernelVariant.Block : RowKernelVariant.Online;
            case RowKernelVariant.Warp when c > WarpMaxColumns:
                throw new ArgumentException($"The warp kernels hold rows of at most {WarpMaxColumns} columns; C = {c}.", nameof(requested));
            case RowKernelVariant.Block when blockBytes > sharedBytesOptIn:
                throw new ArgumentException(
                    $"The block kernel caches the row in shared memory: C = {c} needs {blockBytes} bytes ({blockStaticSharedBytes} of them static), the device allows {sharedBytesOptIn}.",
                    nameof(requested));
            case RowKernelVariant.Row or RowKernelVariant.Warp or RowKernelVariant.Block or RowKernelVariant.Online:
                return requested;
            default:
                throw new ArgumentOutOfRangeException(nameof(requested), requested, "Unknown row kernel variant.");
        }
    }

    /// <summary>The kernel name and launch shape for <paramref name="family"/> (e.g. <c>softmax_forward_f32</c>).</summary>
    public static RowLaunch Plan(Device device, string family, RowKernelVariant requested, int n, int c)
    {
        var variant = Resolve(device, family, requested, c);
        switch (variant)
        {
            case RowKernelVariant.Row:
            {
                var (grid, block) = ThreadPerRow(device, n, c);
                return new RowLaunch($"{family}_row", grid, block, 0);
            }
            case RowKernelVariant.Warp:
            {
                var size = c <= 32 ? 32 : c <= 256 ? 256 : 1024;
                return new RowLaunch($"{family}_warp{size}", CeilDiv(n, WarpsPerBlock), 32 * WarpsPerBlock, 0);
            }
            case RowKernelVariant.Block:
                return new RowLaunch($"{family}_block", n, RowBlockThreads(c), c * sizeof(float));
            default:
                return new RowLaunch($"{family}_online", n, RowBlockThreads(c), 0);
        }
    }

    /// <summary>Launch shape of a one-thread-per-row kernel (the naive chain and the row variant).</summary>
    public static (Dim3 Grid, Dim3 Block) ThreadPerRow(Device device, int n, int c)
    {
        int rowsPerBlock = CudaRowsPerBlock;
        if (device.Kind == DeviceKind.Cpu)
        {
            // A few blocks per worker so that the rows spread evenly, but at least CpuMinBlockElements per block:
            // handing a block to a sleeping worker costs more than a small block's work (the trainer's
            // 256×10 batch runs as one block, on the calling thread).
            int blocksWanted = Math.Max(1, device.MultiprocessorCount * CpuBlocksPerCore);
            int forBalance = CeilDiv(n, blocksWanted);
            int forWork = CeilDiv(CpuMinBlockElements, c);
            rowsPerBlock = Math.Clamp(Math.Max(forBalance, forWork), 1, Math.Min(Math.Max(n, 1), CpuMaxRowsPerBlock));
        }
        return (CeilDiv(n, rowsPerBlock), rowsPerBlock);
    }

    /// <summary>Threads of the one-block reduction kernels (a power of two): a single thread on the CPU device,
    /// where a block's threads would run one after the other anyway.</summary>
    public static int ReduceThreads(Device device) => device.Kind == DeviceKind.Cpu ? 1 : CudaReduceThreads;

    /// <summary>Threads of the reduction kernels on CUDA.</summary>
    internal const int CudaReduceThreads = 256;

    /// <summary>The most threads a block or online row kernel is launched with.</summary>
    internal const int MaxRowBlockThreads = 1024;

    // About eight columns per thread, between one warp and MaxRowBlockThreads.
    private static int RowBlockThreads(int c)
    {
        int threads = 32;
        while (threads < MaxRowBlockThreads && threads * 8 < c)
            threads *= 2;
        return threads;
    }

    private static int CeilDiv(int a, int b) => (int)(((long)a + b - 1) / b);
}
