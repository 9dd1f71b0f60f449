using NUnit.Framework;
using Sharpmax.Cli.Stability;

namespace Sharpmax.Tests.Cli;

public class StabilityTableTests
{
    private static StabilityTable.Row Row(float m, int label) =>
        StabilityTable.Rows().Single(r => r.Magnitude == m && r.Label == label);

    [Test]
    public void Naive_overflows_past_88_72()
    {
        Assert.That(Row(88, 1).Naive, Is.EqualTo(88f).Within(1e-3f), "exp(88) still fits in float32");
        Assert.That(float.IsNaN(Row(89, 0).Naive), "inf/inf when the label holds the overflowing logit");
        Assert.That(float.IsPositiveInfinity(Row(89, 1).Naive), "log(1/inf) = log(0) otherwise");
    }

    [Test]
    public void Shifted_and_clipped_caps_the_loss_at_minus_log_1e_minus_12()
    {
        Assert.That(Row(10, 1).ShiftedClipped, Is.EqualTo(10.0004f).Within(1e-3f));
        foreach (float m in new[] { 30f, 100f, 10000f })
        {
            Assert.That(Row(m, 1).ShiftedClipped, Is.EqualTo(27.631f).Within(1e-3f), $"M = {m}");
        }
    }

    [Test]
    public void Fused_follows_float64_at_every_magnitude()
    {
        foreach (var row in StabilityTable.Rows())
        {
            // float32 rounding of a sum near 1 (relative 6e-8) bounds the error of the right-class rows; the
            // wrong-class rows are ~M with the relative error of one float32 rounding.
            Assert.That(row.Fused, Is.EqualTo(row.Reference).Within(1e-6 + 1e-6 * Math.Abs(row.Reference)), $"M = {row.Magnitude}, y = {row.Label}");
        }
    }

    [Test]
    public void The_table_prints()
    {
        var output = new StringWriter();
        StabilityTable.Print(output);
        Assert.That(output.ToString(), Does.Contain("NaN").And.Contain("inf").And.Contain("27.63102"));
    }
}
