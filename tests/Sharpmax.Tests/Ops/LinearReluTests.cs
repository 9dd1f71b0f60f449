// The linear layer's fused ReLU epilogues (kernels/linear.cu: linear_relu_forward_{f32,u8}_*,
// linear_backward_input_relu_f32_*), every variant on every device, at the MLP's shapes (N = 256: 784 → 256 and
// 256 → 10) and odd ones.
//
// Two kinds of check:
//   * Against the float64 reference, with LinearTests' rounding model: atol = 4·√P·u·max Σ|a·b| (P = K for Y,
//     C for dX), rtol = 4u. ReLU is 1-Lipschitz and exact, so relu(reference) bounds relu(device) as tightly as
//     the product itself; the mask of dX comes from A, an input, so it is exact, and masked outputs must be 0.
//   * Against the unfused ops, bitwise: the fused forward runs the same sums as Forward, then relu_value, so it
//     must equal Forward followed by Relu.Forward bit for bit; so must every variant's masked dX equal
//     BackwardInput followed by Relu.Backward (the simd pair shares its sums too: along C in sequence).
using NUnit.Framework;
using Sharpmax.Ops;
using Sharpmax.Tests.Reference;

namespace Sharpmax.Tests.Ops;

[TestFixture(DeviceKind.Cpu)]
[TestFixture(DeviceKind.Cuda)]
public sealed class LinearReluTests(DeviceKind kind) : DeviceTestBase(kind)
{
    private static readonly double s_u = Math.ScaleB(1.0, -24);
    private static readonly double s_rtol = 4 * s_u;

    private static readonly LinearVariant[] s_variants = [LinearVariant.Naive, LinearVariant.SharedMemory, LinearVariant.Simd];

    // (N, K, C): the MLP's hidden layer (256, 784, 256) and output layer (256, 256, 10), the last batch of an
    // epoch (96 rows), and odd shapes that no tile divides (C = 1, 7, 33; K = 3, 13: dX's 8-lane tail).
    private static readonly (int N, int K, int C)[] s_shapes =
        [(256, 784, 256), (256, 256, 10), (96, 784, 256), (1, 13, 1), (37, 50, 33), (5, 3, 7), (67, 129, 17)];

    public static IEnumerable<TestCaseData> Cases() =>
        from v in s_variants
        from s in s_shapes
        select new TestCaseData(v, s.N, s.K, s.C).SetArgDisplayNames(v.ToString(), $"N={s.N}", $"K={s.K}", $"C={s.C}");

    public static IEnumerable<TestCaseData> GoldenVariants() =>
        from v in s_variants
        from name in GoldenCases.LinearReluNames()
        select new TestCaseData(v, name).SetArgDisplayNames(v.ToString(), name);

    [TestCaseSource(nameof(Cases))]
    public void Fused_forward_matches_the_reference_and_equals_forward_then_relu_bitwise(LinearVariant variant, int n, int k, int c)
    {
        var rng = new RandomData((ulong)(n * 7901 + k * 13 + c));
        int ldx = k + 2;
        var x = rng.Matrix(n, ldx);
        var w = rng.Matrix(k, c);
        var b = rng.Matrix(1, c);
        var op = Make(variant);
        using var xb = Device.Upload<float>(x);
        using var wb = Device.Upload<float>(w);
        using var bb = Device.Upload<float>(b);
        using var yb = Device.Allocate<float>((long)n * c);
        using var unfused = Device.Allocate<float>((long)n * c);
        var xm = new DeviceMatrix(xb, n, k, ldx);
        var wm = new DeviceMatrix(wb, k, c);
        op.ForwardRelu(xm, wm, bb, new DeviceMatrix(yb, n, c));
        op.Forward(xm, wm, bb, new DeviceMatrix(unfused, n, c));
        Relu.Forward(new DeviceMatrix(unfused, n, c), new DeviceMatrix(unfused, n, c));

        var got = yb.ToArray();
        Assert.That(Bits(got), Is.EqualTo(Bits(unfused.ToArray())), "fused = Forward then Relu.Forward");
        var dense = Dense(x, n, k, ldx);
        var expected = ReferenceOps.LinearForward(dense, w, b, n, k, c).Select(v => Math.Max(v, 0)).ToArray();
        double atol = Atol(k, ReferenceOps.LinearForward(Abs(dense), Abs(w), [], n, k, c));
        AssertClose.Tensor(got, expected, atol, s_rtol, $"{op.KernelName("linear_relu_forward_f32")} N={n} K={k} C={c}", c);
        Assert.That(got, Has.All.GreaterThanOrEqualTo(0f), "a ReLU output is never negative");
    }

    [TestCaseSource(nameof(Cases))]
    public void Fused_forward_of_gathered_pixels_matches_the_reference(LinearVariant variant, int n, int k, int c)
    {
        var rng = new RandomData((ulong)(n * 104723 + k * 17 + c));
        const int offset = 2;
        int images = n + 7;
        var pixels = rng.Pixels((long)images * k);
        var index = Permutation(rng, images);
        var w = rng.Matrix(k, c, 0.05);
        var b = rng.Matrix(1, c);
        var op = Make(variant);
        using var pb = Device.Upload<byte>(pixels);
        using var ib = Device.Upload<int>(index);
        using var wb = Device.Upload<float>(w);
        using var bb = Device.Upload<float>(b);
        using var yb = Device.Allocate<float>((long)n * c);
        using var unfused = Device.Allocate<float>((long)n * c);
        var x = new PixelRows(pb, n, k, ib, offset);
        op.ForwardRelu(x, new DeviceMatrix(wb, k, c), bb, new DeviceMatrix(yb, n, c));
        op.Forward(x, new DeviceMatrix(wb, k, c), bb, new DeviceMatrix(unfused, n, c));
        Relu.Forward(new DeviceMatrix(unfused, n, c), new DeviceMatrix(unfused, n, c));

        var got = yb.ToArray();
        Assert.That(Bits(got), Is.EqualTo(Bits(unfused.ToArray())), "fused = Forward then Relu.Forward");
        var rows = GatherRows(pixels, k, index.AsSpan(offset, n));
        var expected = ReferenceOps.LinearForward(rows, w, b, n, k, c).Select(v => Math.Max(v, 0)).ToArray();
        double atol = Atol(k, ReferenceOps.LinearForward(rows, Abs(w), [], n, k, c));
        AssertClose.Tensor(got, expected, atol, s_rtol, $"{op.KernelName("linear_relu_forward_u8")} N={n} K={k} C={c}", c);
    }

    // Here K is the layer's input width (the activation A is N×K) and C its output width, as in Linear.
    [TestCaseSource(nameof(Cases))]
    public void Masked_backward_input_matches_the_reference(LinearVariant variant, int n, int k, int c)
    {
        var rng = new RandomData((ulong)(n * 15485867 + k * 19 + c));
        var dy = rng.Matrix(n, c);
        var w = rng.Matrix(k, c);
        var a = rng.Matrix(n, k).Select(v => Math.Max(v, 0f)).ToArray(); // a ReLU's output: about half zeros
        var op = Make(variant);
        using var dyb = Device.Upload<float>(dy);
        using var wb = Device.Upload<float>(w);
        using var ab = Device.Upload<float>(a);
        using var dxb = Device.Upload<float>(Enumerable.Repeat(float.NaN, n * k).ToArray());
        using var unfused = Device.Allocate<float>((long)n * k);
        op.BackwardInputRelu(new DeviceMatrix(dyb, n, c), new DeviceMatrix(wb, k, c), new DeviceMatrix(ab, n, k), new DeviceMatrix(dxb, n, k));

        var got = dxb.ToArray();
        var sums = ReferenceOps.LinearBackwardInput(dy, w, n, k, c);
        var expected = sums.Select((v, i) => a[i] > 0 ? v : 0).ToArray();
        double atol = Atol(c, ReferenceOps.LinearBackwardInput(Abs(dy), Abs(w), n, k, c));
        AssertClose.Tensor(got, expected, atol, s_rtol, $"{op.KernelName("linear_backward_input_relu_f32")} N={n} K={k} C={c}", k);
        for (int i = 0; i < got.Length; i++)
            if (a[i] <= 0)
                Assert.That(BitConverter.SingleToUInt32Bits(got[i]), Is.Zero, $"dX[{i / k}, {i % k}] is masked: +0 exactly");

        op.BackwardInput(new DeviceMatrix(dyb, n, c), new DeviceMatrix(wb, k, c), new DeviceMatrix(unfused, n, k));
        Relu.Backward(new DeviceMatrix(unfused, n, k), new DeviceMatrix(ab, n, k), new DeviceMatrix(unfused, n, k));
        Assert.That(Bits(got), Is.EqualTo(Bits(unfused.ToArray())), "fused = BackwardInput then Relu.Backward");
    }

    [TestCaseSource(nameof(GoldenVariants))]
    public void Both_epilogues_match_the_NumPy_golden_case(LinearVariant variant, string name)
    {
        var g = GoldenCases.LinearReluCase(name);
        int n = g.N, k = g.K, c = g.C;
        var op = Make(variant);
        using var wb = Device.Upload<float>(g.W);
        using var bb = Device.Upload<float>(g.B);
        using var dyb = Device.Upload<float>(g.DY);
        using var ab = Device.Upload<float>(g.A);
        using var yb = Device.Allocate<float>((long)n * c);
        using var dxb = Device.Allocate<float>((long)n * k);
        var w = new DeviceMatrix(wb, k, c);
        if (g.Pixels is { } pixels)
        {
            using var pb = Device.Upload<byte>(pixels);
            op.ForwardRelu(new PixelRows(pb, n, k), w, bb, new DeviceMatrix(yb, n, c));
        }
        else
        {
            using var xb = Device.Upload<float>(g.X);
            op.ForwardRelu(new DeviceMatrix(xb, n, k), w, bb, new DeviceMatrix(yb, n, c));
        }
        op.BackwardInputRelu(new DeviceMatrix(dyb, n, c), w, new DeviceMatrix(ab, n, k), new DeviceMatrix(dxb, n, k));

        AssertClose.Tensor(yb.ToArray(), g.Y, Atol(k, ReferenceOps.LinearForward(Abs(g.X), Abs(g.W), [], n, k, c)), s_rtol, $"{name} Y", c);
        AssertClose.Tensor(dxb.ToArray(), g.DX, Atol(c, ReferenceOps.LinearBackwardInput(Abs(g.DY), Abs(g.W), n, k, c)), s_rtol, $"{name} dX", k);
    }

    [Test]
    public void A_NaN_activation_passes_the_gradient_and_an_out_of_range_pixel_gives_a_NaN_row([ValueSource(nameof(s_variants))] LinearVariant variant)
    {
        const int n = 3, k = 20, c = 5;
        var rng = new RandomData(5);
        var op = Make(variant);
        var a = Enumerable.Repeat(1f, n * k).ToArray();
        a[7] = float.NaN;
        a[8] = 0f;
        a[9] = -0f;
        using var dyb = Device.Upload<float>(rng.Matrix(n, c));
        using var wb = Device.Upload<float>(rng.Matrix(k, c));
        using var ab = Device.Upload<float>(a);
        using var dxb = Device.Allocate<float>(n * k);
        op.BackwardInputRelu(new DeviceMatrix(dyb, n, c), new DeviceMatrix(wb, k, c), new DeviceMatrix(ab, n, k), new DeviceMatrix(dxb, n, k));
        var dx = dxb.ToArray();
        Assert.That(dx[7], Is.Not.EqualTo(0f).And.Not.NaN, "NaN activation: dY·Wᵀ passes (threshold_backward)");
        Assert.That(dx[8], Is.EqualTo(0f));
        Assert.That(dx[9], Is.EqualTo(0f));

        using var pb = Device.Upload<byte>(rng.Pixels(4 * k));
        using var ib = Device.Upload<int>(new[] { 0, 9, 3 });
        using var yb = Device.Allocate<float>(n * c);
        op.ForwardRelu(new PixelRows(pb, n, k, ib), new DeviceMatrix(wb, k, c), null, new DeviceMatrix(yb, n, c));
        var y = yb.ToArray();
        Assert.That(y.AsSpan(c, c).ToArray(), Is.All.NaN, "row 1's image 9 is outside the 4 images: NaN through the ReLU");
        Assert.That(y.AsSpan(0, c).ToArray(), Is.All.Not.NaN);
    }

    [Test]
    public void Masked_backward_shape_and_aliasing_errors_name_the_operands()
    {
        var op = new Linear(Device);
        using var dyb = Device.Allocate<float>(256 * 10);
        using var wb = Device.Allocate<float>(256 * 10);
        using var ab = Device.Allocate<float>(256 * 256);
        using var dxb = Device.Allocate<float>(256 * 256);
        var dy = new DeviceMatrix(dyb, 256, 10);
        var w = new DeviceMatrix(wb, 256, 10);
        Assert.That(() => op.BackwardInputRelu(dy, w, new DeviceMatrix(ab, 255, 256), new DeviceMatrix(dxb, 256, 256)),
            Throws.ArgumentException.With.Message.Contains("A is 255×256 but dX is 256×256"));
        Assert.That(() => op.BackwardInputRelu(dy, new DeviceMatrix(wb, 256, 9), new DeviceMatrix(ab, 256, 256), new DeviceMatrix(dxb, 256, 256)),
            Throws.ArgumentException.With.Message.Contains("dY is 256×10").And.Message.Contains("W is 256×9"));
        Assert.That(() => op.BackwardInputRelu(dy, w, new DeviceMatrix(ab, 256, 256), new DeviceMatrix(ab, 256, 256)),
            Throws.ArgumentException.With.Message.Contains("dX shares a buffer"));
    }

    private static double Atol(int terms, double[] absSums) => 4 * Math.Sqrt(Math.Max(1, terms)) * s_u * (absSums.Length == 0 ? 0 : absSums.Max());

    private static float[] Abs(float[] values) => values.Select(Math.Abs).ToArray();

    private static float[] Dense(float[] x, int n, int k, int ld)
    {
        var dense = new float[n * k];
        for (int i = 0; i < n; i++)
            x.AsSpan(i * ld, k).CopyTo(dense.AsSpan(i * k));
        return dense;
    }

    private static byte[] GatherRows(byte[] pixels, int k, ReadOnlySpan<int> index)
    {
        var rows = new byte[index.Length * k];
        for (int i = 0; i < index.Length; i++)
            pixels.AsSpan(index[i] * k, k).CopyTo(rows.AsSpan(i * k));
        return rows;
    }

    private static int[] Permutation(RandomData rng, int count)
    {
        var p = Enumerable.Range(0, count).ToArray();
        for (int i = count - 1; i > 0; i--)
        {
            int j = rng.NextInt(i + 1);
            (p[i], p[j]) = (p[j], p[i]);
        }
        return p;
    }

    private static uint[] Bits(float[] values) => values.Select(BitConverter.SingleToUInt32Bits).ToArray();

    private Linear Make(LinearVariant variant)
    {
        if (variant == LinearVariant.Simd && Kind == DeviceKind.Cuda)
            Assert.Ignore("The _simd kernels exist on the CPU device only.");
        return new Linear(Device, variant);
    }
}
