using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Filters;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;

namespace Sharpmax.Bench;

/// <summary>
/// The benchmark harness: <c>./build.sh bench [--quick] [--out DIR] [--only LIST]</c> (see <see cref="BenchOptions.Usage"/>).
/// Benchmarks run in this process (BenchmarkDotNet's in-process toolchain): the devices and native libraries are
/// opened once, and no per-benchmark project is generated and built.
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        BenchOptions options;
        try
        {
            options = BenchOptions.Parse(args);
        }
        catch (UsageException e)
        {
            Console.Error.WriteLine($"sharpmax-bench: error: {e.Message}. Try --help.");
            return 2;
        }
        if (options.Help)
        {
            Console.WriteLine(BenchOptions.Usage);
            return 0;
        }

        try
        {
            string loadAtStart = SummaryReport.LoadAverage();
            Console.WriteLine($"sharpmax-bench: {(options.Quick ? "quick" : "full")} run on {SummaryReport.Machine()}, load average {loadAtStart}");
            var ceilings = MachineCeilings.Measure(options.Quick);
            Console.WriteLine($"sharpmax-bench: ceilings of this machine: {ceilings.Description}");
            IReadOnlyList<EndToEndResult>? endToEnd = null;
            if (options.Families.Contains("e2e"))
                endToEnd = EndToEnd.Run(options.DataDirectory, options.Epochs);

            var bandwidthFailures = options.Families.Contains("bandwidth") ? BandwidthFamily.Run(options) : [];
            var (linearXent, linearXentFailures) = options.Families.Contains("lxent") ? LinearXentFamily.Run(options) : (null, []);
            var summaries = RunBenchmarks(options);
            var times = SummaryReport.Times(summaries);
            var failures = Failures(summaries, times, endToEnd);
            failures.AddRange(bandwidthFailures);
            failures.AddRange(linearXentFailures);
            string path = SummaryReport.Write(options, loadAtStart, times, endToEnd, linearXent, failures);
            Console.WriteLine();
            Console.WriteLine(File.ReadAllText(path));
            Console.WriteLine($"sharpmax-bench: wrote {Path.GetFullPath(path)}; BenchmarkDotNet's CSV and Markdown reports are in {Path.GetFullPath(Path.Combine(options.OutputDirectory, "results"))}");
            if (failures.Count > 0)
            {
                Console.Error.WriteLine($"sharpmax-bench: {failures.Count} failure(s):");
                foreach (var failure in failures)
                    Console.Error.WriteLine($"  {failure}");
                return 1;
            }
            return 0;
        }
        finally
        {
            BenchDevices.DisposeAll();
        }
    }

    private static Summary[] RunBenchmarks(BenchOptions options)
    {
        var types = new (string Family, Type Type)[]
            {
                ("softmax", typeof(SoftmaxBenchmarks)),
                ("xent", typeof(CrossEntropyBenchmarks)),
                ("matmul", typeof(MatmulBenchmarks)),
                ("relu", typeof(LinearReluBenchmarks)),
                ("step", typeof(StepBenchmarks)),
            }
            .Where(t => options.Families.Contains(t.Family)).Select(t => t.Type).ToArray();
        if (types.Length == 0)
            return [];

        foreach (var kind in BenchDevices.Available)
        {
            if (BenchDevices.BlasUnavailable(kind) is { } why)
                Console.WriteLine($"sharpmax-bench: {kind} BLAS baseline skipped: {why}");
        }

        // Quick: one warm-up and three timed single invocations per case, enough to run every setup (and its
        // validation) and every kernel, and to keep CI under a minute or two on two cores. Full: BenchmarkDotNet's
        // default job, capped at 40 iterations so a noisy shared machine cannot stretch one case to 100.
        var job = options.Quick
            ? Job.Dry.WithWarmupCount(1).WithIterationCount(3).WithId("Quick")
            : Job.Default.WithMaxIterationCount(40).WithId("Full");
        var config = ManualConfig.Create(DefaultConfig.Instance)
            .AddJob(job.WithToolchain(InProcessEmitToolchain.Instance))
            .AddColumn(new BandwidthColumn(), new PeakShareColumn(), new GflopsColumn())
            .AddFilter(new SimpleFilter(b => b.Descriptor.WorkloadMethod.Name != nameof(MatmulBenchmarks.Blas)
                || BenchDevices.BlasUnavailable(Workload.DeviceOf(b)) is null))
            .WithArtifactsPath(Path.GetFullPath(options.OutputDirectory));
        return BenchmarkRunner.Run(types, config);
    }

    private static List<string> Failures(Summary[] summaries, IReadOnlyList<CaseTime> times, IReadOnlyList<EndToEndResult>? endToEnd)
    {
        var failures = new List<string>(Validation.Failures);
        failures.AddRange(summaries.SelectMany(s => s.ValidationErrors).Where(e => e.IsCritical).Select(e => $"BenchmarkDotNet: {e.Message}"));
        failures.AddRange(times.Where(t => t.Nanoseconds is null).Select(t => $"{t.Family.Name}.{t.Method} on {t.Device} {t.Shape}: no result (see the log above)"));
        if (endToEnd is not null)
            failures.AddRange(endToEnd.Where(r => r.Failed).Select(r => $"end to end, {r.Name}: {r.Note}"));
        return failures;
    }
}
