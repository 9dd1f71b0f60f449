using System.Globalization;

namespace Sharpmax.Bench;

/// <summary>A kernel's output differs from the float64 reference: the benchmark refuses to time it.</summary>
public sealed class ValidationException(string message) : Exception(message);

/// <summary>
/// The one check every benchmark's setup runs before timing: element i passes when
/// |got − ref| ≤ atol_i + rtol·|ref|, where atol_i is given per element or as one value.
/// On failure the message names the kernel, the shape, the worst element, both values and the count of failures.
/// </summary>
internal static class Validation
{
    private static readonly List<string> Recorded = [];

    /// <summary>Every validation failure of this process, for the summary (BenchmarkDotNet only logs them).</summary>
    public static IReadOnlyList<string> Failures
    {
        get
        {
            lock (Recorded)
                return Recorded.ToArray();
        }
    }

    public static void Close(string what, ReadOnlySpan<float> got, ReadOnlySpan<double> expected, double rtol, double atol) =>
        Close(what, got, expected, rtol, _ => atol);

    public static void Close(string what, ReadOnlySpan<float> got, ReadOnlySpan<double> expected, double rtol, Func<int, double> atolAt)
    {
        if (got.Length != expected.Length)
            throw Fail($"{what}: {got.Length} values, the reference has {expected.Length}.");
        int failures = 0, worst = -1;
        double worstExcess = 0;
        for (int i = 0; i < got.Length; i++)
        {
            double allowed = atolAt(i) + rtol * Math.Abs(expected[i]);
            double diff = Math.Abs(got[i] - expected[i]);
            if (diff <= allowed)
                continue;   // NaN fails here too
            failures++;
            double excess = double.IsNaN(diff) ? double.PositiveInfinity : diff / allowed;
            if (worst < 0 || excess > worstExcess)
            {
                worst = i;
                worstExcess = excess;
            }
        }
        if (failures == 0)
            return;
        throw Fail(string.Create(CultureInfo.InvariantCulture,
            $"{what}: {failures} of {got.Length} values differ from the float64 reference (rtol {rtol}); worst at [{worst}]: got {got[worst]:R}, expected {expected[worst]:R}, allowed ±{atolAt(worst) + rtol * Math.Abs(expected[worst]):G3}. Not timing a wrong kernel."));
    }

    public static void Scalar(string what, double got, double expected, double rtol)
    {
        if (Math.Abs(got - expected) <= rtol * Math.Abs(expected))
            return;
        throw Fail(string.Create(CultureInfo.InvariantCulture,
            $"{what}: got {got:R}, the float64 reference is {expected:R} (rtol {rtol}). Not timing a wrong kernel."));
    }

    /// <summary>Records a failure and returns the exception to throw.</summary>
    public static ValidationException Fail(string message)
    {
        lock (Recorded)
            Recorded.Add(message);
        return new ValidationException(message);
    }
}
