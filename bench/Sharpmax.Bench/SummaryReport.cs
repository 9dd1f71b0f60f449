using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using BenchmarkDotNet.Reports;
using Sharpmax.Bench.LinearXent;
using Sharpmax.Ops;

namespace Sharpmax.Bench;

/// <summary>One benchmark case's mean time, keyed by family, method, device and shape.</summary>
internal sealed record CaseTime(Type Family, string Method, DeviceKind Device, object Shape, double? Nanoseconds, double? Bytes, double? Flops);

/// <summary>
/// summary.md: the machine and devices, then per family the ratios that matter (fused/naive, ours/BLAS) with
/// GB/s (and the share of peak on a GPU) and GFLOP/s, then the end-to-end job side by side, then the goals, met
/// or missed. Also end-to-end.csv. Times come from BenchmarkDotNet's summaries (means).
/// </summary>
internal static class SummaryReport
{
    public const string FileName = "summary.md";
    public const string EndToEndCsv = "end-to-end.csv";

    public static IReadOnlyList<CaseTime> Times(IEnumerable<Summary> summaries) =>
        summaries.SelectMany(summary => summary.BenchmarksCases.Select(b => new CaseTime(
            b.Descriptor.Type,
            b.Descriptor.WorkloadMethod.Name,
            Workload.DeviceOf(b),
            b.Parameters["Shape"] ?? b.Parameters["Case"] ?? "trainer step",
            Workload.MeanNanoseconds(summary, b),
            Workload.Bytes(b),
            Workload.Flops(b)))).ToList();

    /// <summary>The 1-, 5- and 15-minute load averages: this machine is shared, and a loaded one skews every number.</summary>
    public static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "unknown";

    public static string Machine()
    {
        string cpu = "unknown CPU";
        if (File.Exists("/proc/cpuinfo"))
        {
            var line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal));
            if (line is not null)
                cpu = line[(line.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim();
        }
        return $"{cpu}, {Environment.ProcessorCount} logical cores, {RuntimeInformation.OSDescription}, {RuntimeInformation.FrameworkDescription}";
    }

    public static string Write(BenchOptions options, string loadAtStart, IReadOnlyList<CaseTime> times,
        IReadOnlyList<EndToEndResult>? endToEnd, IReadOnlyList<LinearXentResult>? linearXent, IReadOnlyList<string> failures)
    {
        var md = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        md.AppendLine("# Sharpmax benchmark summary").AppendLine();
        md.AppendLine(inv, $"- Run: {(options.Quick ? "**quick** (a few iterations per benchmark: smoke numbers, not measurements)" : "full (BenchmarkDotNet's default job, at most 40 iterations per case)")}, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC");
        md.AppendLine(inv, $"- Machine: {Machine()}; load average {loadAtStart} at the start, {LoadAverage()} at the end");
        foreach (var kind in BenchDevices.Available)
            md.AppendLine(inv, $"- {kind} device: {BenchDevices.Get(kind).Description}; baseline {BenchDevices.BlasName(kind)}{(BenchDevices.BlasUnavailable(kind) is { } why ? $" (not available: {why})" : "")}");
        if (BenchDevices.CudaSkipReason.Length > 0)
            md.AppendLine(inv, $"- CUDA: not benchmarked: {BenchDevices.CudaSkipReason}");
        if (MachineCeilings.Current is { } ceilings)
            md.AppendLine(inv, $"- CPU ceilings, measured at the start of this run: {ceilings.Description}. The CPU device's \"% of ceiling\" columns are against these; a GPU's are against its memory's peak.");
        md.AppendLine("- Times are means; GB/s counts the least traffic of the operation (each input read and each output written once), so the naive chains' extra passes show as a lower rate.");
        md.AppendLine();

        RowTable(md, "Softmax: naive three-kernel chain vs fused", times, typeof(SoftmaxBenchmarks));
        RowTable(md, "Cross-entropy forward+backward: naive chain vs fused", times, typeof(CrossEntropyBenchmarks));
        MatmulTable(md, times);
        LinearReluTable(md, times);
        StepTable(md, times, options.Epochs);
        LinearXentReport.Section(md, linearXent);
        if (endToEnd is not null)
            EndToEndTable(md, endToEnd, options.Epochs);
        Goals(md, times, endToEnd, linearXent, options.Epochs);
        if (failures.Count > 0)
        {
            md.AppendLine("## Failures").AppendLine();
            foreach (var failure in failures)
                md.AppendLine(inv, $"- {failure}");
            md.AppendLine();
        }

        Directory.CreateDirectory(options.OutputDirectory);
        string path = Path.Combine(options.OutputDirectory, FileName);
        File.WriteAllText(path, md.ToString());
        if (endToEnd is not null)
            WriteEndToEndCsv(Path.Combine(options.OutputDirectory, EndToEndCsv), endToEnd);
        return path;
    }

    /// <summary>Mean of the fused CE at N = 4096, C = 1000 on the CPU device over the naive chain's (the goal's ratio).</summary>
    public static double? CrossEntropyGoalSpeedup(IReadOnlyList<CaseTime> times)
    {
        var goal = new RowShape(4096, 1000);
        var naive = Find(times, typeof(CrossEntropyBenchmarks), "Naive", DeviceKind.Cpu, goal);
        var fused = Find(times, typeof(CrossEntropyBenchmarks), "Fused", DeviceKind.Cpu, goal);
        return naive / fused;
    }

    private static double? Find(IReadOnlyList<CaseTime> times, Type family, string method, DeviceKind device, object shape) =>
        times.FirstOrDefault(t => t.Family == family && t.Method == method && t.Device == device && Equals(t.Shape, shape))?.Nanoseconds;

    private static void RowTable(StringBuilder md, string title, IReadOnlyList<CaseTime> times, Type family)
    {
        var cases = times.Where(t => t.Family == family && t.Method == "Fused").ToList();
        if (cases.Count == 0)
            return;
        bool peak = cases.Any(c => BandwidthCeiling(c.Device) is not null);
        md.AppendLine(CultureInfo.InvariantCulture, $"## {title}").AppendLine();
        md.AppendLine("| Device | N×C | MiB | naive | fused | fused kernel | fused/naive time | speedup | naive GB/s | fused GB/s |" + (peak ? " fused % of ceiling |" : ""));
        md.AppendLine("|---|---|--:|--:|--:|---|--:|--:|--:|--:|" + (peak ? "--:|" : ""));
        foreach (var fused in cases)
        {
            var shape = (RowShape)fused.Shape;
            var naive = Find(times, family, "Naive", fused.Device, shape);
            string kernel = family == typeof(SoftmaxBenchmarks)
                ? KernelOfFusedSoftmax(fused.Device, shape)
                : KernelOfFusedCrossEntropy(fused.Device, shape);
            var row = string.Create(CultureInfo.InvariantCulture,
                $"| {fused.Device} | {shape.N}×{shape.C} | {shape.MatrixBytes / (1024.0 * 1024):F1} | {Time(naive)} | {Time(fused.Nanoseconds)} | `{kernel}` | {Ratio(fused.Nanoseconds / naive)} | {Speedup(naive / fused.Nanoseconds)} | {Rate(fused.Bytes / naive)} | {Rate(fused.Bytes / fused.Nanoseconds)} |");
            if (peak)
                row += string.Create(CultureInfo.InvariantCulture, $" {Percent(fused.Bytes / fused.Nanoseconds / BandwidthCeiling(fused.Device))} |");
            md.AppendLine(row);
        }
        md.AppendLine();
    }

    /// <summary>GB/s a row kernel is judged against: the copy measured at the start (CPU), the memory's peak (GPU).</summary>
    private static double? BandwidthCeiling(DeviceKind kind) =>
        kind == DeviceKind.Cpu ? MachineCeilings.Current?.CopyGigabytesPerSecond : BenchDevices.PeakGigabytesPerSecond(kind);

    /// <summary>GFLOP/s a product is judged against: OpenBLAS's large sgemm measured at the start (CPU only).</summary>
    private static double? ArithmeticCeiling(DeviceKind kind) =>
        kind == DeviceKind.Cpu ? MachineCeilings.Current?.SgemmGflops : null;

    private static string KernelOfFusedSoftmax(DeviceKind kind, RowShape shape)
    {
        using var op = new Softmax(BenchDevices.Get(kind));
        return op.KernelFor(shape.N, shape.C);
    }

    private static string KernelOfFusedCrossEntropy(DeviceKind kind, RowShape shape)
    {
        using var op = new FusedCrossEntropy(BenchDevices.Get(kind));
        return op.KernelFor(shape.N, shape.C);
    }

    private static void MatmulTable(StringBuilder md, IReadOnlyList<CaseTime> times)
    {
        var cases = times.Where(t => t.Family == typeof(MatmulBenchmarks) && t.Method == "Fast").ToList();
        if (cases.Count == 0)
            return;
        md.AppendLine("## Linear layer products at the trainer's shape: naive vs ours (fast kernel) vs the vendor BLAS").AppendLine();
        md.AppendLine("| Device | product | naive | ours | ours kernel | BLAS | ours/naive time | ours/BLAS time | ours GFLOP/s | BLAS GFLOP/s | ours % of ceiling |");
        md.AppendLine("|---|---|--:|--:|---|--:|--:|--:|--:|--:|--:|");
        foreach (var fast in cases)
        {
            var product = (LinearCase)fast.Shape;
            var naive = Find(times, typeof(MatmulBenchmarks), "Naive", fast.Device, product);
            var blas = Find(times, typeof(MatmulBenchmarks), "Blas", fast.Device, product);
            string kernel = new Linear(BenchDevices.Get(fast.Device)).KernelName(product.Product switch
            {
                LinearProduct.Forward => "linear_forward_f32",
                LinearProduct.BackwardInput => "linear_backward_input_f32",
                _ => "linear_backward_weight_f32",
            });
            md.AppendLine(CultureInfo.InvariantCulture,
                $"| {fast.Device} | {product.Description} | {Time(naive)} | {Time(fast.Nanoseconds)} | `{kernel}` | {Time(blas)} | {Ratio(fast.Nanoseconds / naive)} | {Ratio(fast.Nanoseconds / blas)} | {Rate(fast.Flops / fast.Nanoseconds)} | {Rate(fast.Flops / blas)} | {Percent(fast.Flops / fast.Nanoseconds / ArithmeticCeiling(fast.Device))} |");
        }
        md.AppendLine();
    }

    private static void LinearReluTable(StringBuilder md, IReadOnlyList<CaseTime> times)
    {
        var cases = times.Where(t => t.Family == typeof(LinearReluBenchmarks) && t.Method == "Fused").ToList();
        if (cases.Count == 0)
            return;
        md.AppendLine(CultureInfo.InvariantCulture, $"## The MLP's hidden layer (batch {LinearReluBenchmarks.N}, {LinearReluBenchmarks.K} → {LinearReluBenchmarks.Hidden} → {LinearReluBenchmarks.Classes}): ReLU fused into the linear kernel vs separate launches").AppendLine();
        md.AppendLine("| Device | operation | separate | fused | fused/separate time |");
        md.AppendLine("|---|---|--:|--:|--:|");
        foreach (var fused in cases)
        {
            var separate = Find(times, typeof(LinearReluBenchmarks), "Separate", fused.Device, fused.Shape);
            string what = (string)fused.Shape == "forward" ? "relu(X·W + b) vs X·W + b, then relu" : "(dY·Wᵀ) ⊙ [A > 0] vs dY·Wᵀ, then the ReLU backward";
            md.AppendLine(CultureInfo.InvariantCulture, $"| {fused.Device} | {what} | {Time(separate)} | {Time(fused.Nanoseconds)} | {Ratio(fused.Nanoseconds / separate)} |");
        }
        md.AppendLine();
    }

    private static void StepTable(StringBuilder md, IReadOnlyList<CaseTime> times, int epochs)
    {
        var cases = times.Where(t => t.Family == typeof(StepBenchmarks)).ToList();
        if (cases.Count == 0)
            return;
        const int stepsPerEpoch = (StepBenchmarks.Images + StepBenchmarks.N - 1) / StepBenchmarks.N;
        md.AppendLine(CultureInfo.InvariantCulture, $"## One training step (N={StepBenchmarks.N}, K={StepBenchmarks.K}, C={StepBenchmarks.C}, u8 images gathered by index) and its launches alone").AppendLine();
        md.AppendLine(CultureInfo.InvariantCulture, $"| Device | launch(es) | mean | share of the step | × {stepsPerEpoch * epochs} steps ({epochs} epoch{(epochs == 1 ? "" : "s")}) |");
        md.AppendLine("|---|---|--:|--:|--:|");
        foreach (var kind in cases.Select(c => c.Device).Distinct())
        {
            var step = Find(times, typeof(StepBenchmarks), "Step", kind, "trainer step");
            var unfused = Find(times, typeof(StepBenchmarks), "UnfusedStep", kind, "trainer step");
            foreach (var op in cases.Where(c => c.Device == kind))
            {
                string name = op.Method switch
                {
                    "Step" => "**whole step** (fused, as the trainer runs it)",
                    "UnfusedStep" => $"**unfused step** (separate launches; fused = {Ratio(step / unfused)} of it)",
                    _ when StepBenchmarks.StepParts.Contains(op.Method) => op.Method,
                    _ => $"{op.Method} (unfused)",
                };
                md.AppendLine(CultureInfo.InvariantCulture,
                    $"| {kind} | {name} | {Time(op.Nanoseconds)} | {Percent(op.Nanoseconds / step)} | {(op.Nanoseconds is { } ns ? (ns * stepsPerEpoch * epochs / 1e9).ToString("F2", CultureInfo.InvariantCulture) + " s" : "-")} |");
            }
            double parts = cases.Where(c => c.Device == kind && StepBenchmarks.StepParts.Contains(c.Method)).Sum(c => c.Nanoseconds ?? 0);
            md.AppendLine(CultureInfo.InvariantCulture, $"| {kind} | sum of the fused step's parts | {Time(parts)} | {Percent(parts / step)} | {(parts * stepsPerEpoch * epochs / 1e9).ToString("F2", CultureInfo.InvariantCulture)} s |");
            if (StepRooflineNanoseconds(kind) is { } roofline)
                md.AppendLine(CultureInfo.InvariantCulture, $"| {kind} | roofline: the two products at the sgemm ceiling | {Time(roofline)} | {Percent(roofline / step)} | step = {Ratio(step / roofline)} × roofline |");
        }
        md.AppendLine();
    }

    /// <summary>The step's arithmetic floor: its two products (X·W and Xᵀ·G, 2·N·K·C flops each) at the measured
    /// sgemm rate; the rest of the step (gather, cross-entropy, bias, SGD) is small beside them.</summary>
    private static double? StepRooflineNanoseconds(DeviceKind kind) =>
        ArithmeticCeiling(kind) is { } gflops ? 2 * 2.0 * StepBenchmarks.N * StepBenchmarks.K * StepBenchmarks.C / gflops : null;

    private static void EndToEndTable(StringBuilder md, IReadOnlyList<EndToEndResult> results, int epochs)
    {
        md.AppendLine(CultureInfo.InvariantCulture, $"## End to end: the training jobs ({epochs} epoch{(epochs == 1 ? "" : "s")}, d2l recipe: batch 256, lr 0.1), epochs timed with per-epoch test evaluation, data loading excluded").AppendLine();
        md.AppendLine("| Job | Implementation | seconds | time / NumPy | time / PyTorch | test accuracy | note |");
        md.AppendLine("|---|---|--:|--:|--:|--:|---|");
        foreach (var r in results)
        {
            var numpy = EndToEnd.Seconds(results, r.Job, EndToEnd.NumPy);
            var torch = EndToEnd.Seconds(results, r.Job, EndToEnd.PyTorch);
            md.AppendLine(CultureInfo.InvariantCulture,
                $"| {r.Job} | {r.Name} | {(r.Seconds is { } s ? s.ToString("F2", CultureInfo.InvariantCulture) : "-")} | {Ratio(r.Seconds / numpy)} | {Ratio(r.Seconds / torch)} | {(r.TestAccuracy is { } a ? a.ToString("P2", CultureInfo.InvariantCulture) : "-")} | {r.Note} |");
        }
        md.AppendLine();
    }

    private static void Goals(StringBuilder md, IReadOnlyList<CaseTime> times, IReadOnlyList<EndToEndResult>? endToEnd,
        IReadOnlyList<LinearXentResult>? linearXent, int epochs)
    {
        md.AppendLine("## Goals").AppendLine();
        var inv = CultureInfo.InvariantCulture;
        if (CrossEntropyGoalSpeedup(times) is { } speedup)
            md.AppendLine(inv, $"- Fused CE forward+backward vs the naive chain, CPU device, N=4096, C=1000: goal ≥ 3×, measured {speedup:F2}×: **{(speedup >= 3 ? "met" : "missed")}**.");
        else
            md.AppendLine("- Fused CE vs naive at N=4096, C=1000 (CPU): not measured in this run.");

        var ours = EndToEnd.OurSeconds(endToEnd, EndToEnd.SoftmaxJob);
        var numpy = EndToEnd.Seconds(endToEnd, EndToEnd.SoftmaxJob, EndToEnd.NumPy);
        if (ours is { } o && numpy is { } n)
        {
            string verdict = epochs != 10 ? $"not judged: this run trained {epochs} epoch{(epochs == 1 ? "" : "s")}, the goal is about 10"
                : $"{(o / n <= 0.2 ? "**met**" : "**missed**")} (≤ 0.25×, issue 13's: {(o / n <= 0.25 ? "**met**" : "**missed**")})";
            md.AppendLine(inv, $"- The training job on the CPU device vs NumPy: goal ≤ 0.2× NumPy's time, measured {o / n:F3}× ({o:F2} s vs {n:F2} s): {verdict}.");
        }
        else
        {
            md.AppendLine("- The training job vs NumPy: not measured in this run (see the end-to-end table).");
        }
        MlpGoal(md, endToEnd, epochs, EndToEnd.NumPy, 1.0);
        MlpGoal(md, endToEnd, epochs, EndToEnd.PyTorch, 0.7);

        var step = Find(times, typeof(StepBenchmarks), "Step", DeviceKind.Cpu, "trainer step");
        if (step is { } stepNs && StepRooflineNanoseconds(DeviceKind.Cpu) is { } rooflineNs)
            md.AppendLine(inv, $"- One training step on the CPU device within 2× its roofline (the two products at the measured sgemm ceiling, {Time(rooflineNs)}): measured {Time(stepNs)}, {stepNs / rooflineNs:F2}×: **{(stepNs <= 2 * rooflineNs ? "met" : "missed")}**.");
        var rowRates = times.Where(t => t.Device == DeviceKind.Cpu && t.Method == "Fused" && t.Shape is RowShape { C: >= 1000 } && t.Nanoseconds is not null).ToList();
        if (rowRates.Count > 0 && BandwidthCeiling(DeviceKind.Cpu) is { } copy)
        {
            var worst = rowRates.MinBy(t => t.Bytes!.Value / t.Nanoseconds!.Value)!;
            double share = worst.Bytes!.Value / worst.Nanoseconds!.Value / copy;
            md.AppendLine(inv, $"- Fused softmax and cross-entropy on the CPU device at ≥ 50 % of the measured copy bandwidth for C ≥ 1000: lowest {share * 100:F1} % ({worst.Family.Name.Replace("Benchmarks", "", StringComparison.Ordinal)} {(RowShape)worst.Shape}): **{(share >= 0.5 ? "met" : "missed")}**.");
        }
        if (Find(times, typeof(StepBenchmarks), "SgdBias", DeviceKind.Cpu, "trainer step") is { } launchNs)
            md.AppendLine(inv, $"- A launch of a tiny kernel on the CPU device (SGD on 10 floats, launch and synchronize) ≤ 2 µs: measured {Time(launchNs)}: **{(launchNs <= 2000 ? "met" : "missed")}**.");
        LinearXentReport.Goals(md, linearXent);

        var gpu = times.Where(t => t.Device == DeviceKind.Cuda && t.Method == "Fused" && t.Shape is RowShape { C: >= 4096 } && t.Nanoseconds is not null).ToList();
        if (gpu.Count > 0 && BenchDevices.PeakGigabytesPerSecond(DeviceKind.Cuda) is { } peak)
        {
            double worst = gpu.Min(t => t.Bytes!.Value / t.Nanoseconds!.Value / peak);
            md.AppendLine(inv, $"- GPU share of peak bandwidth for C ≥ 4096 (fused kernels): goal ≥ 85 %, lowest measured {worst * 100:F1} %: **{(worst >= 0.85 ? "met" : "missed")}**.");
        }
        else
        {
            md.AppendLine(inv, $"- GPU share of peak bandwidth (goal ≥ 85 % for C ≥ 4096): not measured{(BenchDevices.CudaSkipReason.Length > 0 ? $": {BenchDevices.CudaSkipReason}" : ".")}");
        }
        md.AppendLine();
    }

    /// <summary>Issue 9's goal for the MLP job on the CPU device: at most <paramref name="limit"/>× the baseline's time.</summary>
    private static void MlpGoal(StringBuilder md, IReadOnlyList<EndToEndResult>? endToEnd, int epochs, string baseline, double limit)
    {
        var inv = CultureInfo.InvariantCulture;
        var ours = EndToEnd.OurSeconds(endToEnd, EndToEnd.MlpJob);
        var theirs = EndToEnd.Seconds(endToEnd, EndToEnd.MlpJob, baseline);
        if (ours is { } o && theirs is { } t)
        {
            string verdict = epochs != 10 ? $"not judged: this run trained {epochs} epoch{(epochs == 1 ? "" : "s")}, the goal is about 10"
                : o / t <= limit ? "**met**" : "**missed**";
            md.AppendLine(inv, $"- The MLP job on the CPU device vs {baseline}: goal ≤ {limit:0.0#}× its time, measured {o / t:F2}× ({o:F2} s vs {t:F2} s): {verdict}.");
        }
        else
        {
            md.AppendLine(inv, $"- The MLP job vs {baseline}: not measured in this run (see the end-to-end table).");
        }
    }

    private static void WriteEndToEndCsv(string path, IReadOnlyList<EndToEndResult> results)
    {
        var csv = new StringBuilder("job,implementation,seconds,time_over_numpy,time_over_pytorch,test_acc,note\n");
        foreach (var r in results)
        {
            var numpy = EndToEnd.Seconds(results, r.Job, EndToEnd.NumPy);
            var torch = EndToEnd.Seconds(results, r.Job, EndToEnd.PyTorch);
            csv.AppendLine(CultureInfo.InvariantCulture,
                $"{Quote(r.Job)},{Quote(r.Name)},{r.Seconds?.ToString("R", CultureInfo.InvariantCulture)},{(r.Seconds / numpy)?.ToString("R", CultureInfo.InvariantCulture)},{(r.Seconds / torch)?.ToString("R", CultureInfo.InvariantCulture)},{r.TestAccuracy?.ToString("R", CultureInfo.InvariantCulture)},{Quote(r.Note)}");
        }
        File.WriteAllText(path, csv.ToString());
    }

    private static string Quote(string text) => "\"" + text.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    private static string Time(double? nanoseconds) => nanoseconds switch
    {
        null => "-",
        < 1e3 => string.Create(CultureInfo.InvariantCulture, $"{nanoseconds:F0} ns"),
        < 1e6 => string.Create(CultureInfo.InvariantCulture, $"{nanoseconds / 1e3:F1} µs"),
        < 1e9 => string.Create(CultureInfo.InvariantCulture, $"{nanoseconds / 1e6:F2} ms"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{nanoseconds / 1e9:F2} s"),
    };

    private static string Ratio(double? ratio) => ratio is { } r && double.IsFinite(r) ? r.ToString("F3", CultureInfo.InvariantCulture) : "-";

    private static string Speedup(double? ratio) => ratio is { } r && double.IsFinite(r) ? r.ToString("F2", CultureInfo.InvariantCulture) + "×" : "-";

    private static string Rate(double? rate) => rate is { } r && double.IsFinite(r) ? r.ToString("F1", CultureInfo.InvariantCulture) : "-";

    private static string Percent(double? share) => share is { } s && double.IsFinite(s) ? (s * 100).ToString("F1", CultureInfo.InvariantCulture) + " %" : "-";
}
