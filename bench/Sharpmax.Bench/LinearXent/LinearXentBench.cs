using System.Diagnostics;
using System.Globalization;

namespace Sharpmax.Bench.LinearXent;

/// <summary>
/// linear_xent (<see cref="Sharpmax.Ops.LinearCrossEntropy"/>) forward+backward against the unfused chain
/// (<see cref="UnfusedChain"/>) on the same inputs, mean loss, on one device:
/// <list type="number">
/// <item>Peak memory: with the inputs (H, W, b, labels) and the outputs (dH, dW, db) allocated, the device's
/// high-water mark is reset, the path's op is created and run once, and the peak minus the bytes live before is
/// what the path needs beyond its inputs and outputs: the unfused chain's two N×C buffers (logits, gradient) and
/// its cross-entropy workspace; linear_xent's row statistics and packing workspace. Both allocate inside the
/// measured region, so the two numbers count the same things.</item>
/// <item>Validation of those first runs (<see cref="LinearXentCheck"/>): float64 at the quick shape, path against
/// path at every shape. A mismatch throws and nothing is timed.</item>
/// <item>Time: wall clock of synchronized calls, the two paths alternating so that a change of load on the shared
/// machine hits both; the median of a few. Hand-written rather than BenchmarkDotNet's job: one call at the full
/// shape takes seconds, and BenchmarkDotNet's pilot and its 15-plus iterations would take most of an hour.</item>
/// <item>Determinism: linear_xent's loss, dH, dW and db after every one of its runs, bit for bit against the
/// first.</item>
/// <item>Where the time goes: one more run of each, stage by stage (<see cref="UnfusedChain.RunStages"/>,
/// <see cref="FusedPath.RunStages"/>), with the GFLOP/s of each stage's products.</item>
/// </list>
/// </summary>
internal static class LinearXentBench
{
    private const int TimedRuns = 3;

    // A full run must stay well inside ten minutes: when the first runs say three more of each would pass this,
    // one timed run of each is all that is made, and no stage-by-stage run (the summary says how many).
    private static readonly TimeSpan TimingBudget = TimeSpan.FromMinutes(6);

    public static LinearXentResult Run(Device device, LinearXentShape shape, bool quick, TextWriter log)
    {
        string where = $"linear_xent vs unfused on {device.Kind} {shape}";
        log.WriteLine($"lxent: {where}: making inputs");
        var problem = LinearXentProblem.Make(shape);
        using var io = new LinearXentBuffers(device, problem);

        long before = device.ResetPeakLiveBytes();
        using var chain = new UnfusedChain(device, shape);
        double firstUnfused = Seconds(() => chain.Run(io), out float unfusedLoss);
        long unfusedPeak = device.PeakLiveBytes - before;
        var unfused = io.Download(unfusedLoss);
        log.WriteLine(string.Create(CultureInfo.InvariantCulture, $"lxent: unfused chain, first run {firstUnfused:F3} s, peak {Mib(unfusedPeak):F1} MiB beyond inputs and outputs"));

        before = device.ResetPeakLiveBytes();
        using var fused = new FusedPath(device);
        double firstFused = Seconds(() => fused.Run(io), out float fusedLoss);
        long fusedPeak = device.PeakLiveBytes - before;
        var first = io.Download(fusedLoss);
        log.WriteLine(string.Create(CultureInfo.InvariantCulture, $"lxent: linear_xent ({fused.Kernels}), first run {firstFused:F3} s, peak {Mib(fusedPeak):F2} MiB beyond inputs and outputs"));

        string agreement = Validate(where, problem, quick, first, unfused);
        log.WriteLine($"lxent: validated: {agreement}");

        int runs = TimedRuns;
        if (TimeSpan.FromSeconds(runs * (firstUnfused + firstFused)) > TimingBudget)
        {
            runs = 1;
            log.WriteLine($"lxent: {TimedRuns} timed runs of each would take over {TimingBudget.TotalMinutes} min: timing one of each, no stage-by-stage run");
        }
        var unfusedTimes = new List<double>();
        var fusedTimes = new List<double>();
        bool deterministic = true;
        for (int i = 0; i < runs; i++)
        {
            unfusedTimes.Add(Seconds(() => chain.Run(io), out _));
            fusedTimes.Add(Seconds(() => fused.Run(io), out float loss));
            deterministic &= io.Download(loss).BitwiseEquals(first);
            log.WriteLine(string.Create(CultureInfo.InvariantCulture, $"lxent: timed run {i + 1}: unfused {unfusedTimes[^1]:F3} s, linear_xent {fusedTimes[^1]:F3} s"));
        }
        if (!deterministic)   // recorded as a failure; the result still goes into the summary, saying "no"
            _ = Validation.Fail($"{where}: linear_xent gave different bits from one run to the next (loss, dH, dW or db); it promises the same bits every run.");
        var stages = runs < TimedRuns ? [] : chain.RunStages(io).Concat(fused.RunStages(io)).ToList();
        log.WriteLine($"lxent: stages: {string.Join("; ", stages.Select(s => string.Create(CultureInfo.InvariantCulture, $"{s.Name} {s.Seconds:F3} s")))}");
        return new LinearXentResult(device.Kind, shape, fused.Kernels, Median(unfusedTimes), Median(fusedTimes), runs,
            unfusedPeak, fusedPeak, runs + 1, deterministic, agreement, stages);
    }

    private static string Validate(string where, LinearXentProblem problem, bool quick, LinearXentOutputs fused, LinearXentOutputs unfused)
    {
        var inv = CultureInfo.InvariantCulture;
        string float64 = "";
        if (quick)
        {
            var reference = LinearXentCheck.Compute(problem);
            double fusedShare = LinearXentCheck.AgainstFloat64($"{where}: linear_xent", reference, fused);
            double unfusedShare = LinearXentCheck.AgainstFloat64($"{where}: unfused chain", reference, unfused);
            float64 = string.Create(inv, $"vs float64: largest share of the bound used {fusedShare:F3} (linear_xent), {unfusedShare:F3} (unfused); ");
        }
        var (loss, gradient) = LinearXentCheck.Between(where, fused, unfused);
        return float64 + string.Create(inv,
            $"paths apart: loss {loss:G2} relative (allowed {LinearXentCheck.LossRtol:G2}), gradients {gradient:G2} of their largest value (allowed {LinearXentCheck.GradientShare:G2})");
    }

    private static double Seconds(Func<float> run, out float loss)
    {
        long start = Stopwatch.GetTimestamp();
        loss = run();
        return Stopwatch.GetElapsedTime(start).TotalSeconds;
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        int mid = sorted.Count / 2;
        return sorted.Count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }

    public static double Mib(long bytes) => bytes / (1024.0 * 1024);
}
