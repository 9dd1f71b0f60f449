// The SGD step (kernels/sgd.cu) through Sgd.Step, on every device, against the float64 reference and NumPy's
// golden cases.
//
// Tolerance. The kernel rounds four times per element (weight_decay·w, + g, lr·(…), w − …), each time by at most
// u = 2^-24 of a value no larger than m = |w| + lr·(|g| + weight_decay·|w|). So atol = 4u·max m over the
// vector, rtol = 0 (a fused multiply-add only removes roundings).
using NUnit.Framework;
using Sharpmax.Ops;
using Sharpmax.Tests.Reference;

namespace Sharpmax.Tests.Ops;

[TestFixture(DeviceKind.Cpu)]
[TestFixture(DeviceKind.Cuda)]
public sealed class SgdTests(DeviceKind kind) : DeviceTestBase(kind)
{
    [Test]
    public void Step_matches_the_reference([Values(1, 7, 7850, 100003)] int length, [Values(0f, 5e-4f)] float weightDecay)
    {
        const float lr = 0.1f;
        var rng = new RandomData((ulong)length);
        var w = rng.Normal(length, 0.01);
        var g = rng.Matrix(1, length);
        using var wb = Device.Upload<float>(w);
        using var gb = Device.Upload<float>(g);
        Sgd.Step(wb, gb, lr, weightDecay);
        AssertClose.Tensor(wb.ToArray(), ReferenceOps.SgdStep(w, g, lr, weightDecay), Atol(w, g, lr, weightDecay), 0,
            $"SGD n={length} wd={weightDecay}");
    }

    [TestCaseSource(typeof(GoldenCases), nameof(GoldenCases.Sgd))]
    public void Step_matches_the_NumPy_golden_case(SgdGoldenCase golden)
    {
        ArgumentNullException.ThrowIfNull(golden);
        using var wb = Device.Upload<float>(golden.W);
        using var gb = Device.Upload<float>(golden.G);
        Sgd.Step(wb, gb, golden.Lr, golden.WeightDecay);
        AssertClose.Tensor(wb.ToArray(), golden.Updated, Atol(golden.W, golden.G, golden.Lr, golden.WeightDecay), 0, golden.Name);
    }

    [Test]
    public void NaN_and_infinities_propagate_as_in_the_reference([Values(0f, 5e-4f)] float weightDecay)
    {
        // torch.optim.SGD: a NaN gradient makes its weight NaN, ±∞ sends it to ∓∞, and ∞ − ∞ is NaN; nothing is
        // clamped or skipped, so a diverging run shows at the first bad step. Long enough for the vector loop.
        const int n = 37;
        var w = new RandomData(5).Normal(n, 0.01);
        var g = new RandomData(6).Matrix(1, n);
        g[0] = float.NaN;
        g[9] = float.PositiveInfinity;
        g[20] = float.NegativeInfinity;
        w[30] = float.NaN;
        w[31] = float.PositiveInfinity;
        g[31] = float.PositiveInfinity;
        using var wb = Device.Upload<float>(w);
        using var gb = Device.Upload<float>(g);
        Sgd.Step(wb, gb, 0.1f, weightDecay);
        var expected = ReferenceOps.SgdStep(w, g, 0.1f, weightDecay);
        Assert.That(new[] { expected[0], expected[9], expected[20], expected[30], expected[31] },
            Is.EqualTo(new[] { double.NaN, double.NegativeInfinity, double.PositiveInfinity, double.NaN, double.NaN }), "the reference itself");
        var finite = Enumerable.Range(0, n).Where(i => double.IsFinite(expected[i]));
        AssertClose.Tensor(wb.ToArray(), expected, Atol(finite.Select(i => w[i]).ToArray(), finite.Select(i => g[i]).ToArray(), 0.1f, weightDecay), 0,
            $"SGD with NaN/∞, wd={weightDecay}");
    }

    [Test]
    public void A_gradient_of_another_length_or_the_same_buffer_is_rejected()
    {
        using var wb = Device.Upload<float>(new float[10]);
        using var gb = Device.Upload<float>(new float[9]);
        Assert.That(() => Sgd.Step(wb, gb, 0.1f), Throws.ArgumentException.With.Message.Contains("10 floats").And.Message.Contains("holds 9"));
        Assert.That(() => Sgd.Step(wb, wb, 0.1f), Throws.ArgumentException.With.Message.Contains("own buffer"));
    }

    private static double Atol(float[] w, float[] g, float lr, float weightDecay)
    {
        double m = 0;
        for (int i = 0; i < w.Length; i++)
            m = Math.Max(m, Math.Abs(w[i]) + lr * (Math.Abs(g[i]) + weightDecay * Math.Abs(w[i])));
        return 4 * Math.ScaleB(m, -24);
    }
}
