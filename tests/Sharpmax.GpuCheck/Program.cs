using System.Globalization;
using System.Text.RegularExpressions;
using Sharpmax.Bench.Bandwidth;
using Sharpmax.Cli.Commands;

namespace Sharpmax.GpuCheck;

/// <summary>
/// The runner behind tests/gpu-check/gpu-check.sh. Commands (each takes <c>--device cpu|cuda</c>):
/// <code>
///   identity --csv FILE                                   device identity; per-kernel JIT figures to FILE
///   tests [--include RE] [--exclude RE] [--require-run] [--work DIR]   the device fixtures of Sharpmax.Tests
///   compare-metrics --actual F --reference F [--accuracy-tolerance A] [--loss-tolerance L]
///   bench --md FILE [--quick]                             event-timed bandwidth, GPU-sized shapes on CUDA
///   sharpmax ARGS...                                      the sharpmax CLI itself (train, eval, …), same code
/// </code>
/// Exit code: 0 passed, 1 failed, 2 bad usage.
/// </summary>
public static class Program
{
    private const string Usage = "usage: Sharpmax.GpuCheck identity|tests|compare-metrics|bench --device cpu|cuda [options] | Sharpmax.GpuCheck sharpmax ARGS (see tests/gpu-check/gpu-check.sh)";

    public static int Main(string[] args)
    {
        if (args.Length == 0 || args[0] is "-h" or "--help")
        {
            Console.WriteLine(Usage);
            return args.Length == 0 ? 2 : 0;
        }

        // The CLI rides in this executable so the bundle carries one self-contained app and one runtime.
        if (args[0] == "sharpmax")
            return CliApp.Run(args[1..], CliConsole.System());

        Dictionary<string, string> options;
        try
        {
            options = Parse(args.AsSpan(1));
        }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine($"gpu-check: error: {e.Message}. {Usage}");
            return 2;
        }

        var log = Console.Out;
        try
        {
            var kind = Device(options);
            return args[0] switch
            {
                "identity" => KernelFigures.Run(kind, Required(options, "--csv"), log),
                "tests" => FixtureRun.Run(kind, Pattern(options, "--include"), Pattern(options, "--exclude"),
                    options.ContainsKey("--require-run"), options.GetValueOrDefault("--work") ?? Path.Combine(Path.GetTempPath(), "sharpmax-gpucheck-tests"), log),
                "compare-metrics" => MetricsComparison.Run(Required(options, "--actual"), Required(options, "--reference"),
                    Number(options, "--accuracy-tolerance", 0.005), Number(options, "--loss-tolerance", 1e-3), log),
                "bench" => Bench(kind, Required(options, "--md"), options.ContainsKey("--quick"), log),
                _ => throw new ArgumentException($"unknown command '{args[0]}'"),
            };
        }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine($"gpu-check: error: {e.Message}. {Usage}");
            return 2;
        }
        catch (Exception e) when (e is DeviceUnavailableException or CudaException or InvalidOperationException or IOException or DllNotFoundException or EntryPointNotFoundException)
        {
            Console.Error.WriteLine($"gpu-check: {args[0]} failed: {e.Message}");
            return 1;
        }
    }

    private static int Bench(DeviceKind kind, string markdownPath, bool quick, TextWriter log)
    {
        var probe = DriverProbe.Open(kind);
        double clockKiloHertz = probe.DeviceAttribute(36) ?? 0, busBits = probe.DeviceAttribute(37) ?? 0;
        double? peak = clockKiloHertz > 0 && busBits > 0 ? 2 * clockKiloHertz * 1e3 * (busBits / 8) / 1e9 : null;
        using var device = Sharpmax.Device.Open(kind);
        var results = BandwidthBench.Run(device, new BandwidthSetup(probe.DeviceAttribute(38) ?? 0, peak, quick), log);
        string table = BandwidthResult.Table(results);
        File.WriteAllText(markdownPath, $"# Bandwidth on {device.Name}\n\nEvent-timed back-to-back launches, L2 flushed before each repeat; "
            + $"peak {(peak is { } p ? p.ToString("F0", CultureInfo.InvariantCulture) + " GB/s" : "not reported")}.\n\n{table}");
        log.Write(table);
        return 0;
    }

    private static Dictionary<string, string> Parse(ReadOnlySpan<string> args)
    {
        var options = new Dictionary<string, string>(StringComparer.Ordinal);
        for (int i = 0; i < args.Length; i++)
        {
            string name = args[i];
            if (name is "--require-run" or "--quick")
                options[name] = "";
            else if (name.StartsWith("--", StringComparison.Ordinal) && i + 1 < args.Length)
                options[name] = args[++i];
            else
                throw new ArgumentException(name.StartsWith("--", StringComparison.Ordinal) ? $"{name} needs a value" : $"unexpected argument '{name}'");
        }
        return options;
    }

    private static DeviceKind Device(Dictionary<string, string> options) => options.GetValueOrDefault("--device") switch
    {
        "cpu" => DeviceKind.Cpu,
        "cuda" => DeviceKind.Cuda,
        var other => throw new ArgumentException($"--device must be cpu or cuda, not '{other}'"),
    };

    private static string Required(Dictionary<string, string> options, string name) =>
        options.TryGetValue(name, out var value) ? value : throw new ArgumentException($"{name} is required");

    private static Regex? Pattern(Dictionary<string, string> options, string name) =>
        options.TryGetValue(name, out var value) ? new Regex(value, RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1)) : null;

    private static double Number(Dictionary<string, string> options, string name, double fallback)
    {
        if (!options.TryGetValue(name, out var text))
            return fallback;
        return double.TryParse(text, NumberStyles.AllowDecimalPoint | NumberStyles.AllowExponent, CultureInfo.InvariantCulture, out var value) && value >= 0
            ? value
            : throw new ArgumentException($"{name} must be a non-negative number, not '{text}'");
    }
}
