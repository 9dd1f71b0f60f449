using System.Globalization;

namespace Sharpmax.Bench.Bandwidth;

/// <summary>One N×C float row set of the bandwidth bench.</summary>
/// <param name="N">Rows.</param>
/// <param name="C">Columns (classes).</param>
public sealed record BandwidthShape(int N, int C)
{
    /// <summary>Bytes of one N×C float matrix.</summary>
    public long MatrixBytes => (long)N * C * sizeof(float);

    /// <inheritdoc/>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{N}x{C}");
}

/// <summary>
/// The shapes each device is timed at. A GPU gets row sets of at least 256 MiB: an H200's L2 holds 50 MB, so the
/// 16 MiB sets of the CPU device would measure L2, not DRAM. The CPU device keeps 16 MiB (64 rows, 64 MiB, at
/// C = 262144), the harness's streaming shapes, which a 2-core machine runs in seconds.
/// </summary>
public static class BandwidthShapes
{
    /// <summary>Bytes of the row set on a GPU: 256 MiB, over 5× an H200's L2.</summary>
    public const long GpuBytes = 256L << 20;

    /// <summary>Bytes of the row set on the CPU device.</summary>
    public const long CpuBytes = 16L << 20;

    private const int MinRows = 64;
    private static readonly int[] s_classes = [10, 1000, 32768, 262144];

    /// <summary>The shapes for a device kind; quick keeps C = 10 and C = 32768 (one row-per-thread and one
    /// row-per-block kernel).</summary>
    /// <param name="kind">Cpu or Cuda.</param>
    /// <param name="quick">True for the short run of CI and of the GPU check.</param>
    public static IReadOnlyList<BandwidthShape> For(DeviceKind kind, bool quick)
    {
        long bytes = kind == DeviceKind.Cuda ? GpuBytes : CpuBytes;
        return s_classes.Where(c => !quick || c is 10 or 32768)
            .Select(c => new BandwidthShape((int)Math.Max(MinRows, bytes / sizeof(float) / c), c))
            .ToArray();
    }
}
