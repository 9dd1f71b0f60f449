using Sharpmax.Ops;
using static System.FormattableString;

namespace Sharpmax.Cli.Stability;

/// <summary>
/// The numerical-stability story of softmax cross-entropy in float32, for one row of C = 10 logits
/// o = (M, 0, …, 0) of growing magnitude M, against the float64 value:
/// <list type="bullet">
/// <item>naive: −log(exp(o_y) / Σ exp(o_j)), no shift: exp overflows to ∞ once M &gt; 88.72 (ln of float32's max).</item>
/// <item>shifted + clip: softmax of o − max, then −log(max(p_y, 1e-12)): no overflow, but p_y underflows and the clip caps the loss at −ln 1e-12 ≈ 27.63.</item>
/// <item>fused: log-sum-exp of o − max plus max − o_y: exact to float32 rounding at every M.</item>
/// </list>
/// Given a device, the table also runs the project's kernels on the same rows: the naive chain (softmax, log,
/// gather-NLL with the 1e-12 clip) should match "shifted + clip", the fused kernel "fused".
/// </summary>
public static class StabilityTable
{
    public const int Classes = 10;
    public const float Clip = 1e-12f;

    public static IReadOnlyList<float> Magnitudes { get; } = [1, 10, 15, 20, 30, 40, 50, 88, 89, 100, 1000, 10000];

    /// <param name="NaiveKernels">The device's naive cross-entropy chain, when a device was given.</param>
    /// <param name="FusedKernel">The device's fused cross-entropy kernel, when a device was given.</param>
    public sealed record Row(float Magnitude, int Label, double Reference, float Naive, float ShiftedClipped, float Fused,
        float? NaiveKernels = null, float? FusedKernel = null);

    public static List<Row> Rows(Device? device = null)
    {
        using var kernels = device is null ? null : new DeviceCrossEntropy(device);
        var rows = new List<Row>();
        foreach (int label in new[] { 0, 1 })
        {
            foreach (float m in Magnitudes)
            {
                float[] logits = new float[Classes];
                logits[0] = m;
                var row = new Row(m, label, Reference(logits, label), Naive(logits, label), ShiftedClipped(logits, label), Fused(logits, label));
                if (kernels is not null)
                {
                    var (naive, fused) = kernels.Loss(logits, label);
                    row = row with { NaiveKernels = naive, FusedKernel = fused };
                }
                rows.Add(row);
            }
        }
        return rows;
    }

    /// <summary>Prints the table; with a device, two more columns from the project's kernels.</summary>
    public static void Print(TextWriter output, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(output);
        var rows = Rows(device);
        bool withKernels = device is not null;
        output.WriteLine($"Softmax cross-entropy of one row of {Classes} float32 logits o = (M, 0, ..., 0), label y:");
        output.WriteLine("  naive          -log(exp(o_y) / sum exp(o_j)), no shift        (d2l's softmax from scratch)");
        output.WriteLine("  shifted+clip   softmax(o - max), then -log(max(p_y, 1e-12))   (what the 'naive' kernels compute)");
        output.WriteLine("  fused          logsumexp(o - max) + max - o_y                  (the 'fused' kernel)");
        output.WriteLine("  float64        the same loss in double precision, the reference");
        if (withKernels)
        {
            output.WriteLine($"  naive kernels  the project's naive chain (softmax, log, gather-NLL with the clip) on {device!.Kind}");
            output.WriteLine($"  fused kernel   the project's fused cross-entropy kernel on {device.Kind}");
        }
        string? block = null;
        foreach (var row in rows)
        {
            string title = row.Label == 0
                ? "y = 0, the top logit: confident and right (true loss ~ 9·exp(-M))"
                : "y = 1, M below the top: confident and wrong (true loss ~ M)";
            if (title != block)
            {
                block = title;
                output.WriteLine();
                output.WriteLine(title);
                output.WriteLine($"{"M",8}  {"float64",14}  {"naive",14}  {"shifted+clip",14}  {"fused",14}" + (withKernels ? $"  {"naive kernels",14}  {"fused kernel",14}" : ""));
            }
            output.WriteLine(Invariant($"{row.Magnitude,8:G6}  {Show(row.Reference),14}  {Show(row.Naive),14}  {Show(row.ShiftedClipped),14}  {Show(row.Fused),14}")
                + (withKernels ? Invariant($"  {Show(row.NaiveKernels!.Value),14}  {Show(row.FusedKernel!.Value),14}") : ""));
        }
        output.WriteLine();
        output.WriteLine("naive: exp(o) overflows float32 once o > 88.72, giving inf/inf = NaN (right) or log(0) = inf (wrong).");
        output.WriteLine("shifted+clip: never overflows, but p_y underflows below 1e-12 once the gap exceeds 27.6, so the clip caps");
        output.WriteLine("the loss at 27.63 (and its gradient says nothing about how wrong the prediction is).");
        output.WriteLine("fused: follows float64 at every magnitude; for tiny true losses (y = 0) the formula lse - o_y rounds log(1 + 9e^-M)");
        output.WriteLine("to float32 (0 at M = 30); the fused kernel computes log1p(sum of exp(o_j - o_y), j != y) when the label holds");
        output.WriteLine("the max, and keeps those losses to float rounding until 9e^-M leaves the normal floats (M > 87).");
    }

    private static string Show(double value) => value switch
    {
        double.NaN => "NaN",
        double.PositiveInfinity => "inf",
        double.NegativeInfinity => "-inf",
        0 => "0", // also -0, which -log(1) gives

        _ => Invariant($"{value:G7}"),
    };

    private static float Naive(float[] logits, int label)
    {
        float sum = 0;
        foreach (float o in logits)
        {
            sum += MathF.Exp(o);
        }
        return -MathF.Log(MathF.Exp(logits[label]) / sum);
    }

    private static float ShiftedClipped(float[] logits, int label)
    {
        float max = logits.Max();
        float sum = 0;
        foreach (float o in logits)
        {
            sum += MathF.Exp(o - max);
        }
        float p = MathF.Exp(logits[label] - max) / sum;
        return -MathF.Log(MathF.Max(p, Clip));
    }

    private static float Fused(float[] logits, int label)
    {
        float max = logits.Max();
        float sum = 0;
        foreach (float o in logits)
        {
            sum += MathF.Exp(o - max);
        }
        return MathF.Log(sum) + max - logits[label];
    }

    /// <summary>float64, with log1p so that tiny losses keep their digits.</summary>
    private static double Reference(float[] logits, int label)
    {
        double max = logits.Max();
        double rest = 0;
        bool maxSeen = false;
        foreach (float o in logits)
        {
            if (o == max && !maxSeen)
            {
                maxSeen = true;
                continue;
            }
            rest += Math.Exp(o - max);
        }
        return (max - logits[label]) + Log1P(rest);
    }

    /// <summary>log(1 + x) without losing a tiny x to the rounding of 1 + x.</summary>
    private static double Log1P(double x) => Math.Abs(x) < 1e-4 ? x - x * x / 2 + x * x * x / 3 : Math.Log(1 + x);

    /// <summary>One row of logits through the device's two cross-entropy implementations.</summary>
    private sealed class DeviceCrossEntropy : IDisposable
    {
        private readonly DeviceBuffer<float> _logits;
        private readonly DeviceBuffer<int> _label;
        private readonly NaiveCrossEntropy _naive;
        private readonly FusedCrossEntropy _fused;

        public DeviceCrossEntropy(Device device)
        {
            _logits = device.Allocate<float>(Classes);
            _label = device.Allocate<int>(1);
            _naive = new NaiveCrossEntropy(device);
            _fused = new FusedCrossEntropy(device);
        }

        public (float Naive, float Fused) Loss(float[] logits, int label)
        {
            _logits.CopyFrom(logits);
            _label.CopyFrom([label]);
            return (_naive.Forward(_logits, _label, 1, Classes), _fused.Forward(_logits, _label, 1, Classes));
        }

        public void Dispose()
        {
            _fused.Dispose();
            _naive.Dispose();
            _label.Dispose();
            _logits.Dispose();
        }
    }
}
