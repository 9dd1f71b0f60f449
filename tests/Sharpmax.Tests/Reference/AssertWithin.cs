// Element-wise comparison with a bound per element (ReferenceMlp's running error bounds), where AssertClose
// takes one atol and rtol for the whole tensor. NaN in the result always fails.
//
//   AssertWithin.Tensor(got, expected, bound, "dW1", cols: 256);
using System.Globalization;
using NUnit.Framework;

namespace Sharpmax.Tests.Reference;

/// <summary>|got − expected| ≤ bound, element by element, with a message naming the worst element.</summary>
public static class AssertWithin
{
    /// <summary>Fails when an element is NaN or further from the reference than its bound.</summary>
    public static void Tensor(ReadOnlySpan<float> got, ReadOnlySpan<double> expected, ReadOnlySpan<double> bound, string what, int cols = 0)
    {
        Assert.That(got.Length, Is.EqualTo(expected.Length), $"{what}: length");
        int failures = 0, worst = -1;
        double worstRatio = 0, maxRatio = 0;
        for (int i = 0; i < got.Length; i++)
        {
            double diff = Math.Abs(got[i] - expected[i]);
            double ratio = double.IsNaN(got[i]) ? double.PositiveInfinity : diff / Math.Max(bound[i], double.Epsilon);
            maxRatio = Math.Max(maxRatio, ratio);
            if (!(diff <= bound[i]))
            {
                failures++;
                if (ratio >= worstRatio)
                    (worstRatio, worst) = (ratio, i);
            }
        }
        if (failures > 0)
        {
            string where = cols > 0 ? $"[{worst / cols}, {worst % cols}]" : $"[{worst}]";
            Assert.Fail(string.Create(CultureInfo.InvariantCulture,
                $"{what}: {failures} of {got.Length} elements outside their bound; worst {where}: got {got[worst]:R}, expected {expected[worst]:R}, |diff| {Math.Abs(got[worst] - expected[worst]):R} > bound {bound[worst]:R}"));
        }
        TestContext.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{what}: largest |error| / bound = {maxRatio:G3}"));
    }
}
