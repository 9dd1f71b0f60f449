using System.Globalization;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace Sharpmax.Bench;

/// <summary>What one benchmark case moves and computes, from its class and parameters.</summary>
internal static class Workload
{
    public static DeviceKind DeviceOf(BenchmarkCase benchmark) => (DeviceKind)benchmark.Parameters["Device"];

    /// <summary>The least traffic the operation needs, in bytes (see each benchmark class).</summary>
    public static double? Bytes(BenchmarkCase benchmark) => benchmark.Parameters["Shape"] switch
    {
        RowShape s when benchmark.Descriptor.Type == typeof(SoftmaxBenchmarks) => 2.0 * s.MatrixBytes,
        RowShape s when benchmark.Descriptor.Type == typeof(CrossEntropyBenchmarks) => 2.0 * s.MatrixBytes + 8.0 * s.N,
        _ => benchmark.Parameters["Case"] is LinearCase c ? c.Bytes : null,
    };

    public static double? Flops(BenchmarkCase benchmark) => benchmark.Parameters["Case"] is LinearCase c ? c.Flops : null;

    /// <summary>Mean time of a case in nanoseconds, or null when it did not run.</summary>
    public static double? MeanNanoseconds(Summary summary, BenchmarkCase benchmark) => summary[benchmark]?.ResultStatistics?.Mean;
}

/// <summary>A column computed from a case's mean time and its workload.</summary>
internal abstract class WorkloadColumn(string id, string name, string legend, int priority) : IColumn
{
    public string Id => id;
    public string ColumnName => name;
    public string Legend => legend;
    public bool AlwaysShow => true;
    public ColumnCategory Category => ColumnCategory.Custom;
    public int PriorityInCategory => priority;
    public bool IsNumeric => true;
    public UnitType UnitType => UnitType.Dimensionless;

    public abstract bool IsAvailable(Summary summary);

    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, summary.Style);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        var nanoseconds = Workload.MeanNanoseconds(summary, benchmarkCase);
        var value = nanoseconds is > 0 ? Compute(benchmarkCase, nanoseconds.Value) : null;
        return value is null ? "-" : value.Value.ToString(Format, CultureInfo.InvariantCulture);
    }

    protected virtual string Format => "F1";

    protected abstract double? Compute(BenchmarkCase benchmark, double nanoseconds);
}

/// <summary>Effective bandwidth: the least traffic over the mean time (bytes per ns = GB/s).</summary>
internal sealed class BandwidthColumn() : WorkloadColumn("SharpmaxGBps", "GB/s", "Least traffic of the operation / mean time (GB/s)", 0)
{
    public override bool IsAvailable(Summary summary) => true;

    protected override double? Compute(BenchmarkCase benchmark, double nanoseconds) => Workload.Bytes(benchmark) / nanoseconds;
}

/// <summary>Share of the device's peak memory bandwidth; only devices that report it (GPUs).</summary>
internal sealed class PeakShareColumn() : WorkloadColumn("SharpmaxPeak", "% peak BW", "GB/s as a share of peak bandwidth (memory clock × 2 × bus width)", 1)
{
    public override bool IsAvailable(Summary summary) =>
        summary.BenchmarksCases.Any(b => BenchDevices.PeakGigabytesPerSecond(Workload.DeviceOf(b)) is not null);

    protected override double? Compute(BenchmarkCase benchmark, double nanoseconds) =>
        Workload.Bytes(benchmark) / nanoseconds / BenchDevices.PeakGigabytesPerSecond(Workload.DeviceOf(benchmark)) * 100;
}

/// <summary>Arithmetic rate of the matmul benchmarks.</summary>
internal sealed class GflopsColumn() : WorkloadColumn("SharpmaxGflops", "GFLOP/s", "2·rows·depth·cols (+ bias adds) / mean time", 2)
{
    public override bool IsAvailable(Summary summary) => summary.BenchmarksCases.Any(b => Workload.Flops(b) is not null);

    protected override double? Compute(BenchmarkCase benchmark, double nanoseconds) => Workload.Flops(benchmark) / nanoseconds;
}
