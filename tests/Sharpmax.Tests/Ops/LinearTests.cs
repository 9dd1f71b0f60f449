// The linear layer's kernels (kernels/linear.cu) through the Linear op, every variant on every device, against
// the float64 reference (ReferenceOps) and NumPy's golden cases.
//
// Tolerance. An output is a float32 sum of P products (P = K for Y, C for dX, N for dW and db). Whatever the
// order of the sum (in sequence, 16-deep tiles, 16 lanes, with or without FMA), its rounding error for data of
// random sign behaves like √P·u·Σ|terms| (u = 2^-24; the worst case is P·u·Σ|terms|). So each comparison allows
//   atol = 4·√P·u·max over outputs of Σ_p |a_p·b_p|      (a 4× margin over that model)
//   rtol = 4u                                             (the bias add, and the u8 scale: 1/255 rounded to float,
//                                                          applied once per output by the fast kernels)
// Σ|a·b| comes from the same reference run on absolute values.
using NUnit.Framework;
using Sharpmax.Ops;
using Sharpmax.Tests.Reference;

namespace Sharpmax.Tests.Ops;

[TestFixture(DeviceKind.Cpu)]
[TestFixture(DeviceKind.Cuda)]
public sealed class LinearTests(DeviceKind kind) : DeviceTestBase(kind)
{
    private static readonly double s_u = Math.ScaleB(1.0, -24);
    private static readonly double s_rtol = 4 * s_u;

    private static readonly LinearVariant[] s_variants = [LinearVariant.Naive, LinearVariant.SharedMemory, LinearVariant.Simd];

    // (N, K, C): N = 1 and N not a multiple of any block (257, 67, 5, 130), K = 784 and odd K, C = 1, 10, 1000;
    // C = 1, 7, 10 and 17 also pick each row count (4, 8, 12, 16) of the simd dW kernel. The simd dX kernel takes
    // Wᵀ 64 values of c at a time, keeping partial sums beyond: (133, 200, 64) and (33, 70, 65) sit either side
    // (and C = 1000 makes 16 blocks), with N past one thread's 128 rows (133 = 128 + 5, a row left over 4-row
    // register blocks) and K past whole 64-column stripes (200 = 3·64 + 8).
    private static readonly (int N, int K, int C)[] s_shapes =
        [(1, 784, 10), (256, 784, 10), (257, 784, 10), (67, 784, 1), (5, 300, 1000), (5, 3, 17), (130, 31, 33), (9, 50, 7),
         (133, 200, 64), (33, 70, 65)];

    public static IEnumerable<TestCaseData> Cases() =>
        from v in s_variants
        from s in s_shapes
        select new TestCaseData(v, s.N, s.K, s.C).SetArgDisplayNames(v.ToString(), $"N={s.N}", $"K={s.K}", $"C={s.C}");

    public static IEnumerable<TestCaseData> GoldenVariants() =>
        from v in s_variants
        from name in GoldenCases.LinearNames()
        select new TestCaseData(v, name).SetArgDisplayNames(v.ToString(), name);

    [TestCaseSource(nameof(Cases))]
    public void Forward_matches_the_reference(LinearVariant variant, int n, int k, int c)
    {
        var rng = new RandomData((ulong)(n * 7919 + k * 31 + c));
        int ldx = k + 3; // a row stride longer than K: the gap must not be read
        var x = rng.Matrix(n, ldx);
        var w = rng.Matrix(k, c);
        var b = rng.Matrix(1, c);
        var op = Make(variant);
        using var xb = Device.Upload<float>(x);
        using var wb = Device.Upload<float>(w);
        using var bb = Device.Upload<float>(b);
        using var yb = Device.Allocate<float>((long)n * c);
        op.Forward(new DeviceMatrix(xb, n, k, ldx), new DeviceMatrix(wb, k, c), bb, new DeviceMatrix(yb, n, c));

        var dense = Dense(x, n, k, ldx);
        var expected = ReferenceOps.LinearForward(dense, w, b, n, k, c);
        double atol = Atol(k, ReferenceOps.LinearForward(Abs(dense), Abs(w), [], n, k, c));
        AssertClose.Tensor(yb.ToArray(), expected, atol, s_rtol, $"{op.KernelName("linear_forward_f32")} N={n} K={k} C={c}", c);
    }

    [TestCaseSource(nameof(Cases))]
    public void Forward_of_gathered_pixels_matches_the_reference(LinearVariant variant, int n, int k, int c)
    {
        var rng = new RandomData((ulong)(n * 104729 + k * 37 + c));
        const int offset = 3;
        int images = n + 11;
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
        op.Forward(new PixelRows(pb, n, k, ib, offset), new DeviceMatrix(wb, k, c), bb, new DeviceMatrix(yb, n, c));

        var rows = GatherRows(pixels, k, index.AsSpan(offset, n));
        var expected = ReferenceOps.LinearForward(rows, w, b, n, k, c);
        double atol = Atol(k, ReferenceOps.LinearForward(rows, Abs(w), [], n, k, c));
        AssertClose.Tensor(yb.ToArray(), expected, atol, s_rtol, $"{op.KernelName("linear_forward_u8")} N={n} K={k} C={c}", c);
    }

    [TestCaseSource(nameof(Cases))]
    public void Backward_input_matches_the_reference(LinearVariant variant, int n, int k, int c)
    {
        var rng = new RandomData((ulong)(n * 15485863 + k * 41 + c));
        var dy = rng.Matrix(n, c);
        var w = rng.Matrix(k, c);
        var op = Make(variant);
        using var dyb = Device.Upload<float>(dy);
        using var wb = Device.Upload<float>(w);
        using var dxb = Device.Allocate<float>((long)n * k);
        op.BackwardInput(new DeviceMatrix(dyb, n, c), new DeviceMatrix(wb, k, c), new DeviceMatrix(dxb, n, k));

        var expected = ReferenceOps.LinearBackwardInput(dy, w, n, k, c);
        double atol = Atol(c, ReferenceOps.LinearBackwardInput(Abs(dy), Abs(w), n, k, c));
        AssertClose.Tensor(dxb.ToArray(), expected, atol, s_rtol, $"{op.KernelName("linear_backward_input_f32")} N={n} K={k} C={c}", k);
    }

    [TestCaseSource(nameof(Cases))]
    public void Backward_weight_matches_the_reference(LinearVariant variant, int n, int k, int c)
    {
        var rng = new RandomData((ulong)(n * 32452843 + k * 43 + c));
        int ldx = k + 5;
        var x = rng.Matrix(n, ldx);
        var dy = rng.Matrix(n, c);
        var op = Make(variant);
        using var xb = Device.Upload<float>(x);
        using var dyb = Device.Upload<float>(dy);
        using var dwb = Device.Allocate<float>((long)k * c);
        op.BackwardWeight(new DeviceMatrix(xb, n, k, ldx), new DeviceMatrix(dyb, n, c), new DeviceMatrix(dwb, k, c));

        var dense = Dense(x, n, k, ldx);
        var expected = ReferenceOps.LinearBackwardWeight(dense, dy, n, k, c);
        double atol = Atol(n, ReferenceOps.LinearBackwardWeight(Abs(dense), Abs(dy), n, k, c));
        AssertClose.Tensor(dwb.ToArray(), expected, atol, s_rtol, $"{op.KernelName("linear_backward_weight_f32")} N={n} K={k} C={c}", c);
    }

    [TestCaseSource(nameof(Cases))]
    public void Backward_weight_of_gathered_pixels_matches_the_reference(LinearVariant variant, int n, int k, int c)
    {
        var rng = new RandomData((ulong)(n * 49979687 + k * 47 + c));
        const int offset = 5;
        int images = n + 9;
        var pixels = rng.Pixels((long)images * k);
        var index = Permutation(rng, images);
        var dy = rng.Matrix(n, c, 0.01);
        var op = Make(variant);
        using var pb = Device.Upload<byte>(pixels);
        using var ib = Device.Upload<int>(index);
        using var dyb = Device.Upload<float>(dy);
        using var dwb = Device.Allocate<float>((long)k * c);
        op.BackwardWeight(new PixelRows(pb, n, k, ib, offset), new DeviceMatrix(dyb, n, c), new DeviceMatrix(dwb, k, c));

        var rows = GatherRows(pixels, k, index.AsSpan(offset, n));
        var expected = ReferenceOps.LinearBackwardWeight(rows, dy, n, k, c);
        double atol = Atol(n, ReferenceOps.LinearBackwardWeight(rows, Abs(dy), n, k, c));
        AssertClose.Tensor(dwb.ToArray(), expected, atol, s_rtol, $"{op.KernelName("linear_backward_weight_u8")} N={n} K={k} C={c}", c);
    }

    [TestCase(1, 1)]
    [TestCase(257, 10)]
    [TestCase(3, 1000)]
    [TestCase(0, 7)]
    public void Backward_bias_matches_the_reference(int n, int c)
    {
        var dy = new RandomData((ulong)(n + c)).Matrix(n, c);
        using var dyb = Device.Upload<float>(n == 0 ? [0f] : dy);
        using var dbb = Device.Upload<float>(Enumerable.Repeat(float.NaN, c).ToArray());
        new Linear(Device).BackwardBias(new DeviceMatrix(dyb, n, c), dbb);
        double atol = Atol(n, ReferenceOps.LinearBackwardBias(Abs(dy), n, c));
        AssertClose.Tensor(dbb.ToArray(), ReferenceOps.LinearBackwardBias(dy, n, c), atol, s_rtol, $"db N={n} C={c}");
    }

    [TestCaseSource(nameof(GoldenVariants))]
    public void Every_product_matches_the_NumPy_golden_case(LinearVariant variant, string name)
    {
        var g = GoldenCases.LinearCase(name);
        int n = g.N, k = g.K, c = g.C;
        var op = Make(variant);
        using var wb = Device.Upload<float>(g.W);
        using var bb = Device.Upload<float>(g.B);
        using var dyb = Device.Upload<float>(g.DY);
        using var yb = Device.Allocate<float>((long)n * c);
        using var dxb = Device.Allocate<float>((long)n * k);
        using var dwb = Device.Allocate<float>((long)k * c);
        using var dbb = Device.Allocate<float>(c);
        var w = new DeviceMatrix(wb, k, c);
        var dy = new DeviceMatrix(dyb, n, c);
        if (g.Pixels is { } pixels)
        {
            using var pb = Device.Upload<byte>(pixels);
            var x = new PixelRows(pb, n, k);
            op.Forward(x, w, bb, new DeviceMatrix(yb, n, c));
            op.BackwardWeight(x, dy, new DeviceMatrix(dwb, k, c));
        }
        else
        {
            using var xb = Device.Upload<float>(g.X);
            var x = new DeviceMatrix(xb, n, k);
            op.Forward(x, w, bb, new DeviceMatrix(yb, n, c));
            op.BackwardWeight(x, dy, new DeviceMatrix(dwb, k, c));
        }
        op.BackwardInput(dy, w, new DeviceMatrix(dxb, n, k));
        op.BackwardBias(dy, dbb);

        var absX = Abs(g.X);
        AssertClose.Tensor(yb.ToArray(), g.Y, Atol(k, ReferenceOps.LinearForward(absX, Abs(g.W), [], n, k, c)), s_rtol, $"{name} Y", c);
        AssertClose.Tensor(dxb.ToArray(), g.DX, Atol(c, ReferenceOps.LinearBackwardInput(Abs(g.DY), Abs(g.W), n, k, c)), s_rtol, $"{name} dX", k);
        AssertClose.Tensor(dwb.ToArray(), g.DW, Atol(n, ReferenceOps.LinearBackwardWeight(absX, Abs(g.DY), n, k, c)), s_rtol, $"{name} dW", c);
        AssertClose.Tensor(dbb.ToArray(), g.DB, Atol(n, ReferenceOps.LinearBackwardBias(Abs(g.DY), n, c)), s_rtol, $"{name} db");
    }

    [Test]
    public void Pixels_without_an_index_are_taken_in_order_from_the_offset([ValueSource(nameof(s_variants))] LinearVariant variant)
    {
        const int n = 6, k = 40, c = 3, offset = 4;
        var rng = new RandomData(11);
        var pixels = rng.Pixels((n + offset) * k);
        var w = rng.Matrix(k, c);
        using var pb = Device.Upload<byte>(pixels);
        using var wb = Device.Upload<float>(w);
        using var yb = Device.Allocate<float>(n * c);
        Make(variant).Forward(new PixelRows(pb, n, k, Offset: offset), new DeviceMatrix(wb, k, c), null, new DeviceMatrix(yb, n, c));
        var rows = pixels.AsSpan(offset * k, n * k);
        var expected = ReferenceOps.LinearForward(rows, w, [], n, k, c);
        AssertClose.Tensor(yb.ToArray(), expected, Atol(k, ReferenceOps.LinearForward(rows, Abs(w), [], n, k, c)), s_rtol, $"{variant} no index", c);
    }

    [Test]
    public void An_index_outside_the_image_set_gives_NaN_rows_and_reads_nothing_outside([ValueSource(nameof(s_variants))] LinearVariant variant)
    {
        const int n = 9, k = 50, c = 7, images = 12;
        var rng = new RandomData(12);
        var pixels = rng.Pixels(images * k);
        int[] index = [0, 11, -1, 5, images, 3, int.MaxValue, 7, int.MinValue];
        var op = Make(variant);
        using var pb = Device.Upload<byte>(pixels);
        using var ib = Device.Upload<int>(index);
        using var wb = Device.Upload<float>(rng.Matrix(k, c));
        using var dyb = Device.Upload<float>(rng.Matrix(n, c));
        using var yb = Device.Allocate<float>(n * c);
        using var dwb = Device.Allocate<float>(k * c);
        var x = new PixelRows(pb, n, k, ib);
        op.Forward(x, new DeviceMatrix(wb, k, c), null, new DeviceMatrix(yb, n, c));
        op.BackwardWeight(x, new DeviceMatrix(dyb, n, c), new DeviceMatrix(dwb, k, c));

        var y = yb.ToArray();
        for (int i = 0; i < n; i++)
        {
            bool bad = index[i] < 0 || index[i] >= images;
            var row = y.AsSpan(i * c, c).ToArray();
            Assert.That(row, bad ? Is.All.NaN : Is.All.Not.NaN, $"row {i} (image {index[i]})");
        }
        Assert.That(dwb.ToArray(), Is.All.NaN, "a NaN row reaches every weight gradient");
    }

    [TestCase(LinearVariant.Fast, DeviceKind.Cpu, LinearVariant.Simd)]
    [TestCase(LinearVariant.Fast, DeviceKind.Cuda, LinearVariant.SharedMemory)]
    [TestCase(LinearVariant.Naive, DeviceKind.Cpu, LinearVariant.Naive)]
    [TestCase(LinearVariant.SharedMemory, DeviceKind.Cpu, LinearVariant.SharedMemory)]
    public void Fast_picks_the_kernels_of_the_device(LinearVariant requested, DeviceKind on, LinearVariant runs)
    {
        Assume.That(Kind == on, $"this case is about the {on} device");
        var op = Make(requested);
        Assert.That(op.Kernels, Is.EqualTo(runs));
    }

    // The trainer's shapes; the smem kernels also under shuffled thread schedules, which would expose a missing
    // barrier as a different result.
    [Test]
    public void Two_runs_give_bitwise_equal_results([ValueSource(nameof(s_variants))] LinearVariant variant)
    {
        const int n = 256, k = 784, c = 10, images = 600;
        var rng = new RandomData(13);
        var index = Permutation(rng, images);
        var op = Make(variant);
        using var pb = Device.Upload<byte>(rng.Pixels(images * k));
        using var ib = Device.Upload<int>(index);
        using var wb = Device.Upload<float>(rng.Normal(k * c, 0.01));
        using var bb = Device.Upload<float>(rng.Matrix(1, c));
        using var dyb = Device.Upload<float>(rng.Matrix(n, c, 0.01));
        using var yb = Device.Allocate<float>(n * c);
        using var dwb = Device.Allocate<float>(k * c);
        using var dxb = Device.Allocate<float>(n * k);
        var x = new PixelRows(pb, n, k, ib, 100);
        var w = new DeviceMatrix(wb, k, c);
        var dy = new DeviceMatrix(dyb, n, c);

        (float[] Y, float[] DW, float[] DX) Run()
        {
            op.Forward(x, w, bb, new DeviceMatrix(yb, n, c));
            op.BackwardWeight(x, dy, new DeviceMatrix(dwb, k, c));
            op.BackwardInput(dy, w, new DeviceMatrix(dxb, n, k));
            return (yb.ToArray(), dwb.ToArray(), dxb.ToArray());
        }

        var first = Run();
        var seeds = Kind == DeviceKind.Cpu && variant == LinearVariant.SharedMemory ? new ulong[] { 0, 1, 2 } : [0];
        foreach (var seed in seeds)
        {
            if (Kind == DeviceKind.Cpu)
                Device.SetScheduleSeed(seed);
            var again = Run();
            Assert.That(Bits(again.Y), Is.EqualTo(Bits(first.Y)), $"Y, schedule seed {seed}");
            Assert.That(Bits(again.DW), Is.EqualTo(Bits(first.DW)), $"dW, schedule seed {seed}");
            Assert.That(Bits(again.DX), Is.EqualTo(Bits(first.DX)), $"dX, schedule seed {seed}");
        }
    }

    [Test]
    public void A_shape_mismatch_names_both_shapes_and_launches_nothing()
    {
        var op = new Linear(Device);
        using var xb = Device.Allocate<float>(256 * 784);
        using var wb = Device.Allocate<float>(784 * 10);
        using var yb = Device.Upload<float>(Enumerable.Repeat(42f, 256 * 10).ToArray());
        var x = new DeviceMatrix(xb, 256, 784);
        var y = new DeviceMatrix(yb, 256, 10);

        var e = Assert.Throws<ArgumentException>(() => op.Forward(x, new DeviceMatrix(wb, 783, 10), null, y));
        Assert.That(e!.Message, Does.Contain("X is 256×784").And.Contain("W is 783×10"));
        e = Assert.Throws<ArgumentException>(() => op.Forward(x, new DeviceMatrix(wb, 784, 10), null, new DeviceMatrix(yb, 255, 10)));
        Assert.That(e!.Message, Does.Contain("Y is 255×10").And.Contain("256×10"));
        Assert.That(yb.ToArray(), Is.All.EqualTo(42f), "nothing was launched");
    }

    [Test]
    public void Backward_shape_mismatches_name_both_shapes()
    {
        var op = new Linear(Device);
        using var xb = Device.Allocate<float>(256 * 784);
        using var dyb = Device.Allocate<float>(256 * 10);
        using var wb = Device.Allocate<float>(784 * 10);
        using var outb = Device.Allocate<float>(256 * 784);
        var e = Assert.Throws<ArgumentException>(() =>
            op.BackwardWeight(new DeviceMatrix(xb, 255, 784), new DeviceMatrix(dyb, 256, 10), new DeviceMatrix(outb, 784, 10)));
        Assert.That(e!.Message, Does.Contain("X is 255×784").And.Contain("dY is 256×10"));
        e = Assert.Throws<ArgumentException>(() =>
            op.BackwardWeight(new DeviceMatrix(xb, 256, 784), new DeviceMatrix(dyb, 256, 10), new DeviceMatrix(outb, 10, 784)));
        Assert.That(e!.Message, Does.Contain("dW is 10×784").And.Contain("784×10"));
        e = Assert.Throws<ArgumentException>(() =>
            op.BackwardInput(new DeviceMatrix(dyb, 256, 10), new DeviceMatrix(wb, 784, 9), new DeviceMatrix(outb, 256, 784)));
        Assert.That(e!.Message, Does.Contain("dY is 256×10").And.Contain("W is 784×9"));
    }

    [Test]
    public void Buffers_too_small_strides_and_aliasing_are_rejected()
    {
        var op = new Linear(Device);
        using var xb = Device.Allocate<float>(4 * 8);
        using var wb = Device.Allocate<float>(8 * 3);
        using var bb = Device.Allocate<float>(2);
        using var yb = Device.Allocate<float>(4 * 3);
        var w = new DeviceMatrix(wb, 8, 3);
        var y = new DeviceMatrix(yb, 4, 3);
        Assert.That(() => op.Forward(new DeviceMatrix(xb, 4, 8, 9), w, null, y),
            Throws.ArgumentException.With.Message.Contains("needs 35 floats, but its buffer holds 32"));
        Assert.That(() => op.Forward(new DeviceMatrix(xb, 4, 8), w, bb, y),
            Throws.ArgumentException.With.Message.Contains("b holds 2 elements").And.Message.Contains("W is 8×3"));
        Assert.That(() => op.Forward(new DeviceMatrix(xb, 4, 8), new DeviceMatrix(wb, 8, 2, 3), null, new DeviceMatrix(yb, 4, 2)),
            Throws.ArgumentException.With.Message.Contains("rows contiguous"));
        Assert.That(() => op.Forward(new DeviceMatrix(xb, 4, 8), w, null, new DeviceMatrix(xb, 4, 3)),
            Throws.ArgumentException.With.Message.Contains("shares a buffer"));
    }

    [Test]
    public void A_pixel_batch_past_its_index_or_image_set_is_rejected()
    {
        var op = new Linear(Device);
        using var pb = Device.Allocate<byte>(10 * 784);
        using var ib = Device.Allocate<int>(10);
        using var wb = Device.Allocate<float>(784 * 10);
        using var yb = Device.Allocate<float>(8 * 10);
        var w = new DeviceMatrix(wb, 784, 10);
        var y = new DeviceMatrix(yb, 8, 10);
        Assert.That(() => op.Forward(new PixelRows(pb, 8, 784, ib, 3), w, null, y),
            Throws.ArgumentException.With.Message.Contains("index holds 10 entries"));
        Assert.That(() => op.Forward(new PixelRows(pb, 8, 784, Offset: 3), w, null, y),
            Throws.ArgumentException.With.Message.Contains("holds 10 images"));
        Assert.That(() => op.Forward(new PixelRows(pb, 8, 785, ib), w, null, y),
            Throws.ArgumentException.With.Message.Contains("X is 8×785").And.Message.Contains("W is 784×10"));
    }

    [Test]
    public void Zero_rows_leave_Y_alone_and_give_zero_gradients([ValueSource(nameof(s_variants))] LinearVariant variant)
    {
        const int k = 20, c = 6;
        var op = Make(variant);
        using var xb = Device.Allocate<float>(1);
        using var wb = Device.Upload<float>(new RandomData(14).Matrix(k, c));
        using var dyb = Device.Allocate<float>(1);
        using var yb = Device.Allocate<float>(1);
        using var dwb = Device.Upload<float>(Enumerable.Repeat(float.NaN, k * c).ToArray());
        op.Forward(new DeviceMatrix(xb, 0, k), new DeviceMatrix(wb, k, c), null, new DeviceMatrix(yb, 0, c));
        op.BackwardWeight(new DeviceMatrix(xb, 0, k), new DeviceMatrix(dyb, 0, c), new DeviceMatrix(dwb, k, c));
        Assert.That(dwb.ToArray(), Is.All.EqualTo(0f));
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

    [Test]
    public void A_NaN_input_reaches_exactly_the_outputs_that_sum_over_it([ValueSource(nameof(s_variants))] LinearVariant variant)
    {
        // IEEE products: NaN·w = NaN, so a NaN in X[i, k] makes Y's row i and dW's row k NaN, and a NaN in dY[i, c]
        // makes dX's row i NaN; every other output stays finite (no kernel skips a zero or reorders a NaN away).
        const int n = 9, k = 20, c = 10;
        var rng = new RandomData(77);
        var x = rng.Matrix(n, k);
        var w = rng.Matrix(k, c);
        var dy = rng.Matrix(n, c);
        x[4 * k + 3] = float.NaN;
        dy[2 * c + 5] = float.NaN;
        var op = Make(variant);
        using var xb = Device.Upload<float>(x);
        using var wb = Device.Upload<float>(w);
        using var dyb = Device.Upload<float>(dy);
        using var yb = Device.Allocate<float>(n * c);
        using var dxb = Device.Allocate<float>(n * k);
        using var dwb = Device.Allocate<float>(k * c);
        op.Forward(new DeviceMatrix(xb, n, k), new DeviceMatrix(wb, k, c), null, new DeviceMatrix(yb, n, c));
        op.BackwardInput(new DeviceMatrix(dyb, n, c), new DeviceMatrix(wb, k, c), new DeviceMatrix(dxb, n, k));
        var finiteDy = (float[])dy.Clone();
        finiteDy[2 * c + 5] = 0.5f; // dW with only X's NaN
        using var finiteDyb = Device.Upload<float>(finiteDy);
        op.BackwardWeight(new DeviceMatrix(xb, n, k), new DeviceMatrix(finiteDyb, n, c), new DeviceMatrix(dwb, k, c));
        var y = yb.ToArray();
        var dx = dxb.ToArray();
        var dw = dwb.ToArray();
        Assert.Multiple(() =>
        {
            for (int i = 0; i < n; i++)
            {
                Assert.That(y.Skip(i * c).Take(c), i == 4 ? Is.All.NaN : Is.All.Not.NaN, $"Y row {i}");
                Assert.That(dx.Skip(i * k).Take(k), i == 2 ? Is.All.NaN : Is.All.Not.NaN, $"dX row {i}");
            }
            for (int r = 0; r < k; r++)
                Assert.That(dw.Skip(r * c).Take(c), r == 3 ? Is.All.NaN : Is.All.Not.NaN, $"dW row {r}");
        });
    }

    // The _simd kernels are host-only: on CUDA they are not in the PTX and Linear refuses them.
    private Linear Make(LinearVariant variant)
    {
        if (variant == LinearVariant.Simd && Kind == DeviceKind.Cuda)
            Assert.Ignore("The _simd kernels exist on the CPU device only.");
        return new Linear(Device, variant);
    }

    [Test]
    public void The_host_only_simd_kernels_are_refused_on_CUDA_and_bound_by_name_on_the_CPU_device()
    {
        if (Kind == DeviceKind.Cuda)
        {
            Assert.That(() => new Linear(Device, LinearVariant.Simd), Throws.ArgumentException.With.Message.Contain("CPU device only"));
            Assert.That(() => Device.Kernel("linear_forward_f32_simd"), Throws.ArgumentException.With.Message.Contain("HOST_ONLY"));
            return;
        }
        Assert.That(Device.PtxEntryNames, Has.None.EndsWith("_simd"), "not compiled into the PTX");
        Assert.That(Device.Kernel("linear_forward_f32_simd").Name, Is.EqualTo("linear_forward_f32_simd"), "the CPU device binds it by name");
    }
}
