// One comparison for every test: element i passes when |got − ref| ≤ atol + rtol·|ref|.
// NaN matches only NaN, and ±∞ only the same infinity (stated explicitly, not left to IEEE).
//
//   AssertClose.Tensor(gotFloats, refDoubles, atol: 1e-6, rtol: 1e-5, "softmax C=1000", cols: c);
//   AssertClose.Scalar(gotLoss, refLoss, atol: 1e-6, rtol: 1e-5, "mean loss");
//   bool ok = AssertClose.IsClose(got, expected, atol, rtol);
//
// On failure the message names the worst element (flat index, and row/col when `cols` is
// given), both values, the allowed error, how many elements failed, and the normalized
// mean squared error of the whole tensor, NMSE = Σ(got − ref)² / Σ ref² over the entries
// where both are finite, so one message tells a rounding slip from a wrong formula.
using System.Globalization;
using System.Text;
using NUnit.Framework;

namespace Sharpmax.Tests.Reference;

/// <summary>Tolerance comparisons against the float64 reference, with a diagnostic message.</summary>
public static class AssertClose
{
    /// <summary>Whether <paramref name="got"/> is within atol + rtol·|expected|; NaN equals NaN, ±∞ equals itself only.</summary>
    public static bool IsClose(double got, double expected, double atol, double rtol)
    {
        if (double.IsNaN(expected) || double.IsNaN(got))
            return double.IsNaN(expected) && double.IsNaN(got);
        if (double.IsInfinity(expected) || double.IsInfinity(got))
            return got == expected;
        return Math.Abs(got - expected) <= atol + rtol * Math.Abs(expected);
    }

    /// <summary>Fails the test when <paramref name="got"/> is not close to <paramref name="expected"/>.</summary>
    public static void Scalar(double got, double expected, double atol, double rtol, string what)
    {
        if (!IsClose(got, expected, atol, rtol))
            Assert.Fail($"{what}: got {Show(got)}, expected {Show(expected)}; |diff| = {Show(Math.Abs(got - expected))} > "
                        + $"allowed {Show(atol + rtol * Math.Abs(expected))} (atol {Show(atol)}, rtol {Show(rtol)})");
    }

    /// <summary>Element-wise comparison of a float32 result with the float64 reference.</summary>
    /// <param name="cols">Row length, to report the worst element as (row, col); 0 reports the flat index only.</param>
    public static void Tensor(ReadOnlySpan<float> got, ReadOnlySpan<double> expected, double atol, double rtol, string what, int cols = 0)
    {
        var widened = new double[got.Length];
        for (int i = 0; i < got.Length; i++)
            widened[i] = got[i];
        Tensor(widened, expected, atol, rtol, what, cols);
    }

    /// <summary>Element-wise comparison of two float32 tensors (e.g. two runs, or two devices).</summary>
    public static void Tensor(ReadOnlySpan<float> got, ReadOnlySpan<float> expected, double atol, double rtol, string what, int cols = 0)
    {
        var widened = new double[expected.Length];
        for (int i = 0; i < expected.Length; i++)
            widened[i] = expected[i];
        Tensor(got, widened, atol, rtol, what, cols);
    }

    /// <summary>Element-wise comparison of a float64 result with the float64 reference.</summary>
    public static void Tensor(ReadOnlySpan<double> got, ReadOnlySpan<double> expected, double atol, double rtol, string what, int cols = 0)
    {
        if (got.Length != expected.Length)
            Assert.Fail($"{what}: got {got.Length} elements, expected {expected.Length}");

        int failures = 0, worst = -1;
        double worstExcess = 0; // |diff| / allowed; +∞ for NaN or infinity mismatches
        double squaredError = 0, squaredReference = 0;
        for (int i = 0; i < got.Length; i++)
        {
            double g = got[i], e = expected[i];
            if (double.IsFinite(g) && double.IsFinite(e))
            {
                squaredError += (g - e) * (g - e);
                squaredReference += e * e;
            }
            if (IsClose(g, e, atol, rtol))
                continue;
            failures++;
            double allowed = atol + rtol * Math.Abs(e);
            double excess = double.IsFinite(g) && double.IsFinite(e) ? Math.Abs(g - e) / allowed : double.PositiveInfinity;
            if (worst < 0 || excess > worstExcess)
                (worst, worstExcess) = (i, excess);
        }
        if (failures == 0)
            return;

        double nmse = squaredReference > 0 ? squaredError / squaredReference : squaredError;
        var message = new StringBuilder();
        message.Append(CultureInfo.InvariantCulture, $"{what}: {failures} of {got.Length} elements differ beyond atol {Show(atol)} + rtol {Show(rtol)}·|ref|. ");
        message.Append(CultureInfo.InvariantCulture, $"Worst at [{worst}]");
        if (cols > 0)
            message.Append(CultureInfo.InvariantCulture, $" (row {worst / cols}, col {worst % cols})");
        double gw = got[worst], ew = expected[worst];
        message.Append(CultureInfo.InvariantCulture, $": got {Show(gw)}, expected {Show(ew)}, |diff| {Show(Math.Abs(gw - ew))}, allowed {Show(atol + rtol * Math.Abs(ew))}. ");
        message.Append(CultureInfo.InvariantCulture, $"NMSE over finite entries {Show(nmse)}.");
        Assert.Fail(message.ToString());
    }

    private static string Show(double value) => value.ToString("R", CultureInfo.InvariantCulture);
}
