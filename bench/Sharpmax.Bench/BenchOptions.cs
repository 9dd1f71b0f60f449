using System.Globalization;

namespace Sharpmax.Bench;

/// <summary>A command line the harness does not understand; the message says what is wrong.</summary>
public sealed class UsageException(string message) : Exception(message);

/// <summary>The harness's command line.</summary>
internal sealed record BenchOptions
{
    public static readonly string[] AllFamilies = ["softmax", "xent", "matmul", "relu", "step", "lxent", "e2e", "bandwidth"];

    public const string Usage = """
        usage: sharpmax-bench [--quick] [--out DIR] [--only LIST] [--epochs N] [--data DIR]

        Benchmarks Sharpmax's kernels (naive vs fused, ours vs the vendor BLAS) on the CPU device and on CUDA when
        present, validating every kernel against a float64 reference before timing it, then times the default
        training job against NumPy and PyTorch. Writes BenchmarkDotNet's CSV and Markdown reports to DIR/results
        and the ratios that matter to DIR/summary.md (plus DIR/end-to-end.csv).

          --quick       a few iterations per benchmark and a 1-epoch training job (CI: keeps the harness honest)
          --out DIR     where results go (default: BenchmarkDotNet.Artifacts)
          --only LIST   comma-separated subset of softmax, xent, matmul, relu, step, lxent, e2e, bandwidth (default: all)
          --epochs N    epochs of the end-to-end job (default: 10; 1 with --quick)
          --data DIR    Fashion-MNIST folder (default: as `sharpmax train` finds it, e.g. /usr/share/datasets/fashion-mnist)
          -h, --help    this text

        Exit code: 0 all ran; 1 a kernel failed validation, a benchmark or a training run failed; 2 bad usage.
        """;

    public bool Quick { get; init; }
    public bool Help { get; init; }
    public string OutputDirectory { get; init; } = "BenchmarkDotNet.Artifacts";
    public IReadOnlySet<string> Families { get; init; } = new HashSet<string>(AllFamilies);
    public int? EpochsOption { get; init; }
    public string? DataDirectory { get; init; }

    public int Epochs => EpochsOption ?? (Quick ? 1 : 10);

    /// <exception cref="UsageException">An unknown flag, a missing or bad value.</exception>
    public static BenchOptions Parse(IReadOnlyList<string> args)
    {
        var options = new BenchOptions();
        for (int i = 0; i < args.Count; i++)
        {
            string arg = args[i];
            options = arg switch
            {
                "--quick" => options with { Quick = true },
                "-h" or "--help" => options with { Help = true },
                "--out" => options with { OutputDirectory = Value(args, ref i) },
                "--data" => options with { DataDirectory = Value(args, ref i) },
                "--epochs" => options with { EpochsOption = ParseEpochs(Value(args, ref i)) },
                "--only" => options with { Families = ParseFamilies(Value(args, ref i)) },
                _ => throw new UsageException(arg.StartsWith('-') ? $"unknown option '{arg}'" : $"unexpected argument '{arg}'"),
            };
        }
        return options;
    }

    private static string Value(IReadOnlyList<string> args, ref int i)
    {
        if (i + 1 >= args.Count || args[i + 1].StartsWith("--", StringComparison.Ordinal))
            throw new UsageException($"{args[i]} needs a value");
        return args[++i];
    }

    private static int ParseEpochs(string text) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int epochs) && epochs >= 1
            ? epochs
            : throw new UsageException($"--epochs must be a whole number of at least 1, not '{text}'");

    private static HashSet<string> ParseFamilies(string text)
    {
        var families = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet(StringComparer.Ordinal);
        var unknown = families.Where(f => !AllFamilies.Contains(f)).ToList();
        if (unknown.Count > 0 || families.Count == 0)
            throw new UsageException($"--only takes a comma-separated list of {string.Join(", ", AllFamilies)}; got '{text}'");
        return families;
    }
}
