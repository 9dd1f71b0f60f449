// ReLU's own kernels (kernels/relu.cu) through the Relu op, on every device. ReLU and its mask are exact, so
// every comparison is bitwise (tolerance 0): against NumPy's golden cases (NaN, ±0, subnormals, ±∞, ±FLT_MAX)
// and against a direct C# definition on seeded data of a length no launch divides evenly.
using NUnit.Framework;
using Sharpmax.Ops;
using Sharpmax.Tests.Reference;

namespace Sharpmax.Tests.Ops;

[TestFixture(DeviceKind.Cpu)]
[TestFixture(DeviceKind.Cuda)]
public sealed class ReluTests(DeviceKind kind) : DeviceTestBase(kind)
{
    public static IEnumerable<string> GoldenNames() => GoldenCases.ReluNames();

    [TestCaseSource(nameof(GoldenNames))]
    public void Forward_and_backward_match_the_NumPy_golden_case_bitwise(string name)
    {
        var g = GoldenCases.ReluCase(name);
        int n = g.X.Length;
        using var xb = Device.Upload<float>(g.X);
        using var dyb = Device.Upload<float>(g.DY);
        using var yb = Device.Allocate<float>(n);
        using var dxb = Device.Allocate<float>(n);
        Relu.Forward(Row(xb, n), Row(yb, n));
        Relu.Backward(Row(dyb, n), Row(yb, n), Row(dxb, n));
        Assert.That(Bits(yb.ToArray()), Is.EqualTo(Bits(g.Y)), $"{name}: y");
        Assert.That(Bits(dxb.ToArray()), Is.EqualTo(Bits(g.DX)), $"{name}: dx");
    }

    [TestCase(1, 1)]
    [TestCase(7, 13)]
    [TestCase(331, 303)]  // 100293 elements: runs of every length the CPU device's threads get
    public void Forward_and_backward_match_the_definition_in_place_too(int rows, int cols)
    {
        var rng = new RandomData((ulong)(rows * 31 + cols));
        var x = rng.Matrix(rows, cols);
        var dy = rng.Matrix(rows, cols);
        var expectedY = x.Select(v => v > 0 || float.IsNaN(v) ? v : 0f).ToArray();
        var expectedDx = dy.Select((d, i) => expectedY[i] <= 0 ? 0f : d).ToArray();
        using var xb = Device.Upload<float>(x);
        using var dyb = Device.Upload<float>(dy);
        using var yb = Device.Allocate<float>(x.Length);
        using var dxb = Device.Allocate<float>(x.Length);
        var xm = new DeviceMatrix(xb, rows, cols);
        var ym = new DeviceMatrix(yb, rows, cols);
        var dym = new DeviceMatrix(dyb, rows, cols);
        Relu.Forward(xm, ym);
        Relu.Backward(dym, ym, new DeviceMatrix(dxb, rows, cols));
        Assert.That(Bits(yb.ToArray()), Is.EqualTo(Bits(expectedY)), "y");
        Assert.That(Bits(dxb.ToArray()), Is.EqualTo(Bits(expectedDx)), "dx");

        Relu.Forward(xm, xm);
        Relu.Backward(dym, ym, dym);
        Assert.That(Bits(xb.ToArray()), Is.EqualTo(Bits(expectedY)), "y in place");
        Assert.That(Bits(dyb.ToArray()), Is.EqualTo(Bits(expectedDx)), "dx in place");
    }

    [Test]
    public void Shape_mismatches_aliasing_and_small_buffers_are_rejected_before_any_launch()
    {
        using var a = Device.Upload<float>(Enumerable.Repeat(-1f, 12).ToArray());
        using var b = Device.Upload<float>(Enumerable.Repeat(42f, 12).ToArray());
        using var c = Device.Upload<float>(Enumerable.Repeat(7f, 12).ToArray());
        Assert.That(() => Relu.Forward(new DeviceMatrix(a, 3, 4), new DeviceMatrix(b, 4, 3)),
            Throws.ArgumentException.With.Message.Contains("Y is 4×3 but X is 3×4"));
        Assert.That(() => Relu.Forward(new DeviceMatrix(a, 4, 4), new DeviceMatrix(b, 4, 4)),
            Throws.ArgumentException.With.Message.Contains("needs 16 floats, but its buffer holds 12"));
        Assert.That(() => Relu.Backward(new DeviceMatrix(a, 3, 4), new DeviceMatrix(b, 2, 4), new DeviceMatrix(c, 3, 4)),
            Throws.ArgumentException.With.Message.Contains("A is 2×4 but dY is 3×4"));
        Assert.That(() => Relu.Backward(new DeviceMatrix(a, 3, 4), new DeviceMatrix(b, 3, 4), new DeviceMatrix(b, 3, 4)),
            Throws.ArgumentException.With.Message.Contains("shares a buffer with the activation"));
        Assert.That(b.ToArray(), Is.All.EqualTo(42f), "nothing was launched");
        Assert.That(c.ToArray(), Is.All.EqualTo(7f), "nothing was launched");
    }

    [Test]
    public void Zero_rows_launch_nothing()
    {
        using var a = Device.Allocate<float>(1);
        Assert.That(() => Relu.Forward(new DeviceMatrix(a, 0, 5), new DeviceMatrix(a, 0, 5)), Throws.Nothing);
    }

    private static DeviceMatrix Row(DeviceBuffer<float> b, int n) => new(b, 1, n);

    private static uint[] Bits(float[] values) => values.Select(BitConverter.SingleToUInt32Bits).ToArray();
}
