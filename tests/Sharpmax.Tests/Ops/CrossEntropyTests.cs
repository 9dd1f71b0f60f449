using NUnit.Framework;
using Sharpmax.Ops;
using Sharpmax.Tests.Reference;

namespace Sharpmax.Tests.Ops;

[TestFixture(DeviceKind.Cpu)]
[TestFixture(DeviceKind.Cuda)]
public sealed class CrossEntropyTests(DeviceKind kind) : DeviceTestBase(kind)
{
    // Tolerances against the float64 reference, |got − ref| ≤ atol + rtol·|ref|:
    // Loss (per row, and mean): atol 5e-5, rtol 1e-5. The loss is log Σexp(x − max) − (x_y − max): the row sum has
    //   a relative error of a few 1e-6 (chunked float sums, exp within 1.4 ulp; SoftmaxTests), which log turns
    //   into the same absolute error; x_y − max rounds relative to its own size (rtol). Label smoothing adds
    //   ε·mean_c(x_c − max), a float sum of C terms of size |x − max| (up to 2e4 in the ±1e4 rows), hence the rtol.
    // Sum (and None, which returns the sum): the per-row atol times the rows summed.
    // Gradient: atol 2e-5·scale, rtol 2e-5. It is (p − target)·scale and p carries SoftmaxTests' 2e-5 relative
    //   error; near the label p − 1 cancels, so that error is absolute there, in units of scale.
    private const double LossAtol = 5e-5;
    private const double LossRtol = 1e-5;
    private const double GradRtol = 2e-5;

    // −log(float32(1e-12)): the most the naive chain's clip lets a row lose.
    private static readonly double s_clippedLoss = -Math.Log((float)1e-12);

    private static readonly RowKernelVariant[] s_variants =
        [RowKernelVariant.Auto, RowKernelVariant.Row, RowKernelVariant.Warp, RowKernelVariant.Block, RowKernelVariant.Online];

    public static IEnumerable<TestCaseData> GoldenVariants()
    {
        foreach (var g in GoldenCases.CrossEntropy)
            foreach (var variant in s_variants)
                if (Runs(variant, g.C))
                    yield return new TestCaseData(g.Name, variant).SetArgDisplayNames(g.Name, variant.ToString());
    }

    [TestCaseSource(nameof(GoldenVariants))]
    public void Fused_matches_the_NumPy_golden_case(string name, RowKernelVariant variant)
    {
        var g = GoldenCases.CrossEntropyCase(name);
        var options = Options(g, variant);
        var forward = RunForward(new FusedCrossEntropy(Device, options), g.Logits, g.Labels, g.N, g.C, withLse: true);
        var both = Run(new FusedCrossEntropy(Device, options), g.Logits, g.Labels, g.N, g.C);
        string what = $"{name} ({variant})";
        double scale = GradScale(g);
        Assert.Multiple(() =>
        {
            AssertClose.Scalar(forward.Loss, g.Loss, SummedAtol(g), LossRtol, $"{what}: reduced loss, forward");
            AssertClose.Scalar(both.Loss, g.Loss, SummedAtol(g), LossRtol, $"{what}: reduced loss, forward+backward");
            AssertClose.Tensor(both.RowLoss, g.Rows.Select(r => r.Loss).ToArray(), LossAtol, LossRtol, $"{what}: row losses");
            AssertClose.Tensor(forward.Lse!, g.Rows.Select(r => r.Lse).ToArray(), LossAtol, LossRtol, $"{what}: log-sum-exp");
            AssertClose.Tensor(Pick(both.Grad!, g), g.Values.Select(v => v.Grad).ToArray(), 2e-5 * scale, GradRtol, $"{what}: gradient");
        });
    }

    [TestCaseSource(typeof(GoldenCases), nameof(GoldenCases.CrossEntropyNames))]
    public void Naive_matches_the_NumPy_golden_case(string name)
    {
        var g = GoldenCases.CrossEntropyCase(name);
        var result = Run(new NaiveCrossEntropy(Device, Options(g, RowKernelVariant.Auto)), g.Logits, g.Labels, g.N, g.C);
        double scale = GradScale(g);
        Assert.Multiple(() =>
        {
            if (g.LabelSmoothing == 0)
            {
                AssertClose.Scalar(result.Loss, g.NaiveLoss, SummedAtol(g), LossRtol, $"{name}: naive reduced loss");
                AssertClose.Tensor(result.RowLoss, g.Rows.Select(r => r.NaiveLoss).ToArray(), LossAtol, LossRtol, $"{name}: naive row losses");
            }
            else
            {
                // The golden naive loss is d2l's, which has no smoothing; the naive chain smooths with its clipped
                // log-probabilities: (1 − ε)·(−log max(p_y, 1e-12)) + ε·mean_c(−log max(p_c, 1e-12)).
                AssertClose.Scalar(result.Loss, NaiveSmoothedLoss(g), SummedAtol(g), LossRtol, $"{name}: naive smoothed loss");
            }
            AssertClose.Tensor(Pick(result.Grad!, g), g.Values.Select(v => v.Grad).ToArray(), 2e-5 * scale, GradRtol, $"{name}: naive gradient");
        });
    }

    [TestCaseSource(typeof(RowCases), nameof(RowCases.Shapes))]
    public void Fused_matches_the_float64_reference(RowKernelVariant variant, int n, int c)
    {
        foreach (var (reduction, smoothing) in new[] { (Reduction.Mean, 0f), (Reduction.Sum, 0.1f) })
        {
            var logits = RowCases.Logits(seed: (ulong)(n * 7919 + c), n, c);
            var labels = RowCases.Labels(seed: (ulong)(n + c), n, c, ignoreFraction: 0.1);
            var options = new CrossEntropyOptions { Reduction = reduction, LabelSmoothing = smoothing, Variant = variant };
            var result = Run(new FusedCrossEntropy(Device, options), logits, labels, n, c, gradScale: 0.5f);
            var reference = ReferenceOps.CrossEntropy(logits, labels, n, c, ToRef(reduction), labelSmoothing: smoothing);
            string what = $"{variant} N={n} C={c} {reduction} ε={smoothing}";
            double scale = 0.5 * (reduction == Reduction.Mean ? 1.0 / Math.Max(1, reference.Count) : 1.0);
            Assert.Multiple(() =>
            {
                AssertClose.Scalar(result.Loss, reference.Loss, LossAtol * (reduction == Reduction.Mean ? 1 : n), LossRtol, $"{what}: loss");
                AssertClose.Tensor(result.RowLoss, reference.RowLoss, LossAtol, LossRtol, $"{what}: row losses");
                AssertClose.Tensor(result.Grad!, Scaled(reference.Gradient, 0.5), 2e-5 * scale, GradRtol, $"{what}: gradient", c);
            });
        }
    }

    public static IEnumerable<TestCaseData> LargeLogitVariants()
    {
        foreach (int c in new[] { 10, 1000, 30000 })
            foreach (var variant in s_variants)
                if (Runs(variant, c))
                    yield return new TestCaseData(variant, c).SetArgDisplayNames(variant.ToString(), $"C={c}");
    }

    [TestCaseSource(nameof(LargeLogitVariants))]
    public void Label_smoothing_keeps_its_precision_on_logits_near_plus_or_minus_1e4(RowKernelVariant variant, int c)
    {
        // ε·mean_c(x − max) must be summed relative to the max: Σx − C·max in float cancels away the digits of
        // x − max when |x| ≈ 1e4 (the online kernel once did that, an error of ~1e-4 in an O(10) loss). LossRtol
        // is sized for rows where |x − max| itself reaches 2e4 and lets such an error through in a row whose
        // loss is O(10). Here every term is relative to the max, so the row loss keeps the atol's own argument
        // (log of a sum with a relative error of a few 1e-6) and float's rtol: 1e-5 and 1e-6.
        // Rows: 1e4 + U(−8, 8), −1e4 + U(−8, 8), and ±1e4 entries among ordinary ones.
        const int n = 12;
        const double SmoothedLossAtol = 1e-5, SmoothedLossRtol = 1e-6;
        var logits = new RandomData((ulong)c).Logits(n, c);
        for (int r = 0; r < n; r++)
            for (int j = 0; j < c; j++)
            {
                ref float x = ref logits[r * c + j];
                x = (r % 3) switch { 0 => x + 1e4f, 1 => x - 1e4f, _ => j % 3 == 0 ? (j % 2 == 0 ? 1e4f : -1e4f) : x };
            }
        var labels = new RandomData((ulong)c + 1).Labels(n, c);
        var options = new CrossEntropyOptions { Reduction = Reduction.Sum, LabelSmoothing = 0.1f, Variant = variant };
        var result = Run(new FusedCrossEntropy(Device, options), logits, labels, n, c);
        var reference = ReferenceOps.CrossEntropy(logits, labels, n, c, RefReduction.Sum, labelSmoothing: 0.1);
        string what = $"{variant} C={c} ε=0.1, logits ±1e4";
        Assert.Multiple(() =>
        {
            AssertClose.Tensor(result.RowLoss, reference.RowLoss, SmoothedLossAtol, SmoothedLossRtol, $"{what}: row losses");
            AssertClose.Scalar(result.Loss, reference.Loss, LossAtol * n, LossRtol, $"{what}: loss");
            AssertClose.Tensor(result.Grad!, reference.Gradient, 2e-5, GradRtol, $"{what}: gradient", c);
        });
    }

    [TestCase(1, 1)]
    [TestCase(37, 10)]
    [TestCase(256, 10)]
    [TestCase(37, 1000)]
    [TestCase(7, 30000)]
    [TestCase(7, 262144)]
    public void Naive_matches_the_float64_reference(int n, int c)
    {
        var logits = RowCases.Logits(seed: (ulong)(n * 31 + c), n, c);
        var labels = RowCases.Labels(seed: (ulong)c, n, c, ignoreFraction: 0.1);
        var result = Run(new NaiveCrossEntropy(Device), logits, labels, n, c);
        var naive = ReferenceOps.NaiveCrossEntropy(logits, labels, n, c);
        var exact = ReferenceOps.CrossEntropy(logits, labels, n, c);
        double scale = 1.0 / Math.Max(1, exact.Count);
        Assert.Multiple(() =>
        {
            AssertClose.Scalar(result.Loss, naive.Loss, LossAtol, LossRtol, "naive mean loss");
            AssertClose.Tensor(result.RowLoss, naive.RowLoss, LossAtol, LossRtol, "naive row losses");
            AssertClose.Tensor(result.Grad!, exact.Gradient, 2e-5 * scale, GradRtol, "naive gradient", c);
        });
    }

    [Test]
    public void The_naive_clip_caps_the_loss_at_27_63_where_the_fused_loss_is_exact()
    {
        // Row 0: the label's logit is 100 below the max, so p = e^-100 underflows float32 and the clip takes
        // over: the true loss is 100. Row 1: the label's logit is −∞: the true loss is +∞. Row 2: an ordinary row.
        float[] logits = [0f, 100f, -1f, float.NegativeInfinity, 2f, 3f, 0.5f, 1.5f, -0.5f];
        int[] labels = [0, 0, 1];
        var naive = Run(new NaiveCrossEntropy(Device, new CrossEntropyOptions { Reduction = Reduction.None }), logits, labels, 3, 3);
        var fused = Run(new FusedCrossEntropy(Device, new CrossEntropyOptions { Reduction = Reduction.None }), logits, labels, 3, 3);
        var exact = ReferenceOps.CrossEntropy(logits, labels, 3, 3, RefReduction.None);
        Assert.Multiple(() =>
        {
            Assert.That(naive.RowLoss[0], Is.EqualTo(s_clippedLoss).Within(1e-5), "naive: clipped at −log(1e-12)");
            Assert.That(naive.RowLoss[1], Is.EqualTo(s_clippedLoss).Within(1e-5), "naive: −∞ logit clipped too");
            Assert.That(fused.RowLoss[0], Is.EqualTo(100.00000000000004).Within(1e-4), "fused: the true loss, 100");
            Assert.That(fused.RowLoss[1], Is.EqualTo(float.PositiveInfinity), "fused: −∞ at the label is an infinite loss");
            AssertClose.Scalar(fused.RowLoss[2], exact.RowLoss[2], LossAtol, LossRtol, "fused, ordinary row");
            AssertClose.Scalar(naive.RowLoss[2], exact.RowLoss[2], LossAtol, LossRtol, "naive, ordinary row");
            Assert.That(fused.Grad!.All(float.IsFinite), Is.True, "the fused gradient stays finite");
        });
    }

    [Test]
    public void Logits_past_the_float_exp_overflow_at_88_7_are_handled_by_both_paths()
    {
        // Unshifted softmax computes exp(x) itself: float32 exp overflows past ln(FLT_MAX) ≈ 88.72, and then
        // p = ∞/∞ = NaN. Both chains here subtract the row max first.
        Assert.That(MathF.Exp(88.7f), Is.LessThan(float.MaxValue));
        Assert.That(MathF.Exp(88.8f), Is.EqualTo(float.PositiveInfinity));
        float[] logits = [89f, 90f, 0f, 1000f, 999f, 998f];
        int[] labels = [1, 2];
        var exact = ReferenceOps.CrossEntropy(logits, labels, 2, 3, RefReduction.None);
        foreach (ICrossEntropy op in new ICrossEntropy[] { new NaiveCrossEntropy(Device), new FusedCrossEntropy(Device) })
        {
            var result = Run(op, logits, labels, 2, 3);
            AssertClose.Tensor(result.RowLoss, exact.RowLoss, LossAtol, LossRtol, $"{op.GetType().Name} row losses");
        }
    }

    [TestCase(RowKernelVariant.Row)]
    [TestCase(RowKernelVariant.Warp)]
    [TestCase(RowKernelVariant.Block)]
    [TestCase(RowKernelVariant.Online)]
    public void A_row_of_all_minus_infinity_has_loss_infinity_and_the_gradient_of_p_equal_zero(RowKernelVariant variant)
    {
        // Our definition (cross_entropy.cu): such a row has no softmax; p is taken as all zeros (as softmax.cu
        // does), so −log p_y = +∞ and the gradient is (0 − onehot)·scale. The naive chain sees the same p and clips.
        const int c = 5;
        var logits = Enumerable.Repeat(float.NegativeInfinity, c).Concat([1f, 2f, 3f, 4f, 5f]).ToArray();
        int[] labels = [2, 4];
        var fused = Run(new FusedCrossEntropy(Device, new CrossEntropyOptions { Variant = variant }), logits, labels, 2, c, withLse: true);
        var naive = Run(new NaiveCrossEntropy(Device), logits, labels, 2, c);
        Assert.Multiple(() =>
        {
            Assert.That(fused.RowLoss[0], Is.EqualTo(float.PositiveInfinity));
            Assert.That(fused.Loss, Is.EqualTo(float.PositiveInfinity), "mean");
            Assert.That(fused.Lse![0], Is.EqualTo(float.NegativeInfinity));
            Assert.That(fused.Grad!.Take(c), Is.EqualTo(new[] { 0f, 0f, -0.5f, 0f, 0f }), "(0 − onehot)·(1/2)");
            Assert.That(naive.RowLoss[0], Is.EqualTo(s_clippedLoss).Within(1e-5));
            Assert.That(naive.Grad!.Take(c), Is.EqualTo(new[] { 0f, 0f, -0.5f, 0f, 0f }));
        });
    }

    [Test]
    public void An_all_ignored_batch_has_mean_zero_and_a_zero_gradient([Values] bool fused)
    {
        // PyTorch returns NaN (0/0) here. Sharpmax defines the mean over no rows as 0: the loss is then a constant
        // and its gradient 0, so a padding-only batch leaves the weights alone instead of poisoning them with NaN.
        var logits = new RandomData(3).Logits(4, 10);
        var labels = Enumerable.Repeat(-100, 4).ToArray();
        ICrossEntropy op = fused ? new FusedCrossEntropy(Device) : new NaiveCrossEntropy(Device);
        var result = Run(op, logits, labels, 4, 10);
        Assert.Multiple(() =>
        {
            Assert.That(result.Loss, Is.Zero);
            Assert.That(result.RowLoss, Is.All.Zero);
            Assert.That(result.Grad, Is.All.Zero);
        });
    }

    public static IEnumerable<TestCaseData> Implementations()
    {
        yield return new TestCaseData(false, RowKernelVariant.Auto).SetArgDisplayNames("naive");
        foreach (var variant in s_variants.Skip(1))
            yield return new TestCaseData(true, variant).SetArgDisplayNames($"fused {variant}");
    }

    [TestCaseSource(nameof(Implementations))]
    public void A_label_out_of_range_throws_naming_the_first_bad_row_and_its_value_and_the_device_keeps_working(bool fused, RowKernelVariant variant)
    {
        const int n = 40, c = 10;
        var logits = new RandomData(5).Logits(n, c);
        var labels = new RandomData(6).Labels(n, c);
        labels[9] = -1;
        labels[3] = 12;
        labels[31] = 10;
        var good = labels.Select(l => l is < 0 or >= c ? -100 : l).ToArray();
        var options = new CrossEntropyOptions { Variant = variant };
        using ICrossEntropy op = fused ? new FusedCrossEntropy(Device, options) : new NaiveCrossEntropy(Device, options);
        using var x = Device.Upload<float>(logits);
        using var badLabels = Device.Upload<int>(labels);
        using var goodLabels = Device.Upload<int>(good);
        using var grad = Device.Allocate<float>(n * c);

        var e = Assert.Throws<ArgumentOutOfRangeException>(() => op.ForwardBackward(x, badLabels, n, c, grad))!;
        Assert.That(e.Message, Does.Contain("row 3").And.Contain("Label 12").And.Contain("[0, 10)"));
        Assert.That(e.ActualValue, Is.EqualTo(12));
        Assert.Throws<ArgumentOutOfRangeException>(() => op.Forward(x, badLabels, n, c), "forward only, too");

        float loss = op.ForwardBackward(x, goodLabels, n, c, grad);
        var reference = ReferenceOps.CrossEntropy(logits, good, n, c);
        var expected = fused ? reference.Loss : ReferenceOps.NaiveCrossEntropy(logits, good, n, c).Loss;
        AssertClose.Scalar(loss, expected, LossAtol, LossRtol, "after the error, a good batch");
    }

    public static IEnumerable<TestCaseData> ImplementationsAndReductions()
    {
        foreach (var reduction in new[] { Reduction.Mean, Reduction.Sum, Reduction.None })
        {
            yield return new TestCaseData(false, RowKernelVariant.Auto, reduction).SetArgDisplayNames("naive", reduction.ToString());
            foreach (var variant in s_variants.Skip(1))
                yield return new TestCaseData(true, variant, reduction).SetArgDisplayNames($"fused {variant}", reduction.ToString());
        }
    }

    [TestCaseSource(nameof(ImplementationsAndReductions))]
    public void After_a_bad_label_error_every_call_is_bitwise_what_it_is_on_a_fresh_op(bool fused, RowKernelVariant variant, Reduction reduction)
    {
        // The error must leave nothing behind: neither the status nor anything that shares its buffer (the mean's
        // count of valid rows once did, and the next gradient came out all zeros). Each failing entry point is
        // followed by each good one, whose results must equal a fresh op's bit for bit, and the reference.
        const int n = 40, c = 10;
        var logits = new RandomData(21).Logits(n, c);
        var good = new RandomData(22).Labels(n, c, ignoreFraction: 0.1);
        var bad = (int[])good.Clone();
        bad[7] = c;
        var options = new CrossEntropyOptions { Variant = variant, Reduction = reduction, LabelSmoothing = 0.05f };
        ICrossEntropy Make() => fused ? new FusedCrossEntropy(Device, options) : new NaiveCrossEntropy(Device, options);
        var expected = Run(Make(), logits, good, n, c, gradScale: 0.5f);
        var reference = ReferenceOps.CrossEntropy(logits, good, n, c, ToRef(reduction), labelSmoothing: 0.05);
        double scale = 0.5 * (reduction == Reduction.Mean ? 1.0 / reference.Count : 1.0);
        AssertClose.Tensor(expected.Grad!, Scaled(reference.Gradient, 0.5), 2e-5 * scale, GradRtol, "fresh op: gradient", c);

        using var op = Make();
        using var x = Device.Upload<float>(logits);
        using var badLabels = Device.Upload<int>(bad);
        using var grad = Device.Allocate<float>(n * c);
        var failing = new (string Name, Action Call)[]
        {
            ("ForwardBackward", () => op.ForwardBackward(x, badLabels, n, c, grad)),
            ("Forward", () => op.Forward(x, badLabels, n, c)),
        };
        Assert.Multiple(() =>
        {
            foreach (var (name, call) in failing)
            {
                var e = Assert.Throws<ArgumentOutOfRangeException>(() => call(), name)!;
                Assert.That(e.Message, Does.Contain("row 7").And.Contain($"Label {c}"), name);
                AssertBitwiseEqual(Run(op, logits, good, n, c, gradScale: 0.5f, dispose: false), expected, $"ForwardBackward after a failed {name}");

                Assert.Throws<ArgumentOutOfRangeException>(() => call(), name);
                using var y = Device.Upload<int>(good);
                float loss = op.Forward(x, y, n, c);
                Assert.That(BitConverter.SingleToInt32Bits(loss), Is.EqualTo(BitConverter.SingleToInt32Bits(expected.Loss)), $"Forward after a failed {name}");
            }
        });
    }

    public static IEnumerable<TestCaseData> NonFiniteCases()
    {
        foreach (var c in new[] { 1, 10, 1000 })
        {
            yield return new TestCaseData(false, RowKernelVariant.Auto, c).SetArgDisplayNames("naive", $"C={c}");
            foreach (var variant in s_variants)
                if (Runs(variant, c))
                    yield return new TestCaseData(true, variant, c).SetArgDisplayNames($"fused {variant}", $"C={c}");
        }
    }

    [TestCaseSource(nameof(NonFiniteCases))]
    public void A_NaN_or_plus_infinity_logit_gives_a_NaN_loss_and_gradient_on_every_path(bool fused, RowKernelVariant variant, int c)
    {
        // PyTorch and the float64 reference: log_softmax of a row with a NaN, or with +∞ (∞ − ∞), is NaN, and so
        // are its loss, its gradient and the mean. The naive chain's 1e-12 clip once turned such a row into the
        // finite loss 27.631 (max(NaN, 1e-12) picked the clip), and softmax's 1/Σ into zeros for the finite
        // entries. An ignored row stays 0 whatever its logits, and ordinary rows keep their values.
        const int n = 6;
        var logits = new RandomData((ulong)c + 30).Logits(n, c);
        logits[c - 1] = float.NaN;                       // row 0: NaN
        logits[c + c / 2] = float.PositiveInfinity;      // row 1: +∞, not at the label below
        logits[2 * c] = float.PositiveInfinity;          // row 2: +∞ at the label
        logits[3 * c] = float.NaN;                       // row 3: NaN, but the row is ignored
        int[] labels = [0, c > 1 ? (c / 2 + 1) % c : 0, 0, -100, c - 1, 0];
        var options = new CrossEntropyOptions { Variant = variant, Reduction = Reduction.Sum };
        var result = Run(fused ? new FusedCrossEntropy(Device, options) : new NaiveCrossEntropy(Device, options), logits, labels, n, c, withLse: true);
        var reference = ReferenceOps.CrossEntropy(logits, labels, n, c, RefReduction.Sum);
        string what = fused ? $"fused {variant} C={c}" : $"naive C={c}";
        Assert.Multiple(() =>
        {
            Assert.That(reference.RowLoss.Take(3), Is.All.NaN, "the reference itself");
            Assert.That(result.Loss, Is.NaN, $"{what}: the sum");
            Assert.That(result.RowLoss.Take(3), Is.All.NaN, $"{what}: row losses of the NaN and +∞ rows");
            Assert.That(result.Grad!.Take(3 * c), Is.All.NaN, $"{what}: their gradients");
            Assert.That(result.RowLoss[3], Is.Zero, $"{what}: the ignored NaN row's loss");
            Assert.That(result.Grad!.Skip(3 * c).Take(c), Is.All.Zero, $"{what}: the ignored NaN row's gradient");
            AssertClose.Tensor(result.Grad!.Skip(4 * c).ToArray(), reference.Gradient.Skip(4 * c).ToArray(), 2e-5, GradRtol, $"{what}: ordinary rows", c);
            var finiteLoss = fused ? reference.RowLoss : ReferenceOps.NaiveCrossEntropy(logits, labels, n, c, RefReduction.Sum).RowLoss;
            AssertClose.Tensor(result.RowLoss.Skip(4).ToArray(), finiteLoss.Skip(4).ToArray(), LossAtol, LossRtol, $"{what}: ordinary row losses");
            if (result.Lse is not null)
                Assert.That(result.Lse.Take(3), Is.All.NaN, $"{what}: log-sum-exp (the reference's too: ∞ + log NaN)");
        });
    }

    [TestCase(12257)]
    [TestCase(12288)]
    public void The_block_kernel_launches_where_the_row_and_its_static_scratch_pass_48_KiB_together(int c)
    {
        // 4·C ≤ 48 KiB < 4·C + 256 static bytes: Device.Launch must opt in (it once did not, and the driver refused).
        const int n = 3;
        var logits = new RandomData((ulong)c).Logits(n, c);
        var labels = new RandomData((ulong)c + 1).Labels(n, c);
        var result = Run(new FusedCrossEntropy(Device, new CrossEntropyOptions { Variant = RowKernelVariant.Block }), logits, labels, n, c);
        var reference = ReferenceOps.CrossEntropy(logits, labels, n, c);
        AssertClose.Tensor(result.RowLoss, reference.RowLoss, LossAtol, LossRtol, $"block C={c}: row losses");
        AssertClose.Tensor(result.Grad!, reference.Gradient, 2e-5 / n, GradRtol, $"block C={c}: gradient", c);
    }

    [Test]
    public void The_ignore_index_is_configurable_and_the_default_minus_100_is_then_out_of_range()
    {
        var logits = new RandomData(9).Logits(3, 4);
        int[] labels = [1, 255, 3];
        using var op = new FusedCrossEntropy(Device, new CrossEntropyOptions { IgnoreIndex = 255 });
        using var x = Device.Upload<float>(logits);
        using var y = Device.Upload<int>(labels);
        AssertClose.Scalar(op.Forward(x, y, 3, 4), ReferenceOps.CrossEntropy(logits, labels, 3, 4, ignoreIndex: 255).Loss, LossAtol, LossRtol, "ignore 255");
        y.CopyFrom([1, -100, 3]);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => op.Forward(x, y, 3, 4))!;
        Assert.That(e.Message, Does.Contain("row 1").And.Contain("-100"));
    }

    [TestCaseSource(nameof(Implementations))]
    public void Results_are_bitwise_identical_run_to_run_and_under_a_shuffled_schedule(bool fused, RowKernelVariant variant)
    {
        const int n = 37, c = 1000;
        var logits = RowCases.Logits(11, n, c);
        var labels = RowCases.Labels(12, n, c, ignoreFraction: 0.2);
        var options = new CrossEntropyOptions { Variant = variant, LabelSmoothing = 0.1f };
        using ICrossEntropy op = fused ? new FusedCrossEntropy(Device, options) : new NaiveCrossEntropy(Device, options);
        var first = Run(op, logits, labels, n, c, dispose: false);
        var second = Run(op, logits, labels, n, c, dispose: false);
        AssertBitwiseEqual(second, first, "second run");
        if (Kind == DeviceKind.Cpu)
        {
            foreach (ulong seed in new ulong[] { 12345, 777 })
            {
                Device.SetScheduleSeed(seed);
                AssertBitwiseEqual(Run(op, logits, labels, n, c, dispose: false), first, $"randomized schedule, seed {seed}");
            }
        }
    }

    [Test]
    public void Workspaces_are_allocated_once_and_reused([Values] bool fused)
    {
        const int n = 256, c = 10;
        var logits = new RandomData(13).Logits(n, c);
        var labels = new RandomData(14).Labels(n, c);
        using ICrossEntropy op = fused ? new FusedCrossEntropy(Device) : new NaiveCrossEntropy(Device);
        using var x = Device.Upload<float>(logits);
        using var y = Device.Upload<int>(labels);
        using var grad = Device.Allocate<float>(n * c);
        op.ForwardBackward(x, y, n, c, grad);
        long afterFirst = Device.LiveBytes;
        for (int batch = 0; batch < 5; batch++)
        {
            op.ForwardBackward(x, y, n, c, grad);
            op.Forward(x, y, n - batch, c);
        }
        Assert.That(Device.LiveBytes, Is.EqualTo(afterFirst), "no allocation per batch");
    }

    [Test]
    public void Strided_logits_and_gradient_leave_the_padding_alone([Values] RowKernelVariant variant)
    {
        const int n = 6, c = 50, ld = 64, ldg = 53;
        var wide = new RandomData(15).Logits(n, ld);
        var labels = new RandomData(16).Labels(n, c);
        using var op = new FusedCrossEntropy(Device, new CrossEntropyOptions { Variant = variant });
        using var x = Device.Upload<float>(wide);
        using var y = Device.Upload<int>(labels);
        using var grad = Device.Upload<float>(Enumerable.Repeat(7f, n * ldg).ToArray());
        float loss = op.ForwardBackward(x, y, n, c, grad, ld, ldg);
        var dense = Enumerable.Range(0, n).SelectMany(r => wide.Skip(r * ld).Take(c)).ToArray();
        var reference = ReferenceOps.CrossEntropy(dense, labels, n, c);
        var g = grad.ToArray();
        Assert.Multiple(() =>
        {
            AssertClose.Scalar(loss, reference.Loss, LossAtol, LossRtol, "loss");
            AssertClose.Tensor(Enumerable.Range(0, n).SelectMany(r => g.Skip(r * ldg).Take(c)).ToArray(), reference.Gradient,
                2e-5 / n, GradRtol, "gradient", c);
            Assert.That(Enumerable.Range(0, n - 1).SelectMany(r => g.Skip(r * ldg + c).Take(ldg - c)), Is.All.EqualTo(7f), "padding");
        });
    }

    [Test]
    public void Shape_errors_name_both_shapes([Values] bool fused)
    {
        using ICrossEntropy op = fused ? new FusedCrossEntropy(Device) : new NaiveCrossEntropy(Device);
        using var logits = Device.Allocate<float>(100);
        using var shortLogits = Device.Allocate<float>(99);
        using var labels = Device.Allocate<int>(10);
        using var shortLabels = Device.Allocate<int>(9);
        using var grad = Device.Allocate<float>(100);
        using var shortGrad = Device.Allocate<float>(90);
        using var shortRowLoss = Device.Allocate<float>(5);
        long before = Device.LiveBytes;
        Assert.Multiple(() =>
        {
            Assert.That(() => op.Forward(shortLogits, labels, 10, 10), Throws.ArgumentException.With.Message.Contain("holds 99 floats").And.Message.Contain("N×C = 10×10"));
            Assert.That(() => op.Forward(logits, shortLabels, 10, 10), Throws.ArgumentException.With.Message.Contain("holds 9 labels").And.Message.Contain("N×C = 10×10"));
            Assert.That(() => op.ForwardBackward(logits, labels, 10, 10, shortGrad), Throws.ArgumentException.With.Message.Contain("holds 90 floats").And.Message.Contain("N×C = 10×10"));
            Assert.That(() => op.Forward(logits, labels, 10, 10, rowLoss: shortRowLoss), Throws.ArgumentException.With.Message.Contain("holds 5 floats"));
            Assert.That(() => op.Forward(logits, labels, 10, 10, ld: 5), Throws.InstanceOf<ArgumentOutOfRangeException>());
            Assert.That(() => op.ForwardBackward(logits, labels, 10, 10, logits), Throws.ArgumentException.With.Message.Contain("cannot overwrite the logits"));
            Assert.That(() => new FusedCrossEntropy(Device, new CrossEntropyOptions { LabelSmoothing = 1.5f }), Throws.InstanceOf<ArgumentOutOfRangeException>());
            Assert.That(Device.LiveBytes, Is.EqualTo(before), "nothing allocated by a rejected call");
        });
    }

    [Test]
    public void An_empty_batch_returns_zero_without_a_launch([Values] bool fused)
    {
        using ICrossEntropy op = fused ? new FusedCrossEntropy(Device) : new NaiveCrossEntropy(Device);
        using var logits = Device.Allocate<float>(0);
        using var labels = Device.Allocate<int>(0);
        using var grad = Device.Allocate<float>(0);
        Assert.That(op.ForwardBackward(logits, labels, 0, 10, grad), Is.Zero);
    }

    private sealed record Outcome(float Loss, float[] RowLoss, float[]? Grad, float[]? Lse);

    private Outcome Run(ICrossEntropy op, float[] logits, int[] labels, int n, int c, float gradScale = 1f,
        bool withLse = false, bool dispose = true)
    {
        try
        {
            using var x = Device.Upload<float>(logits);
            using var y = Device.Upload<int>(labels);
            using var rowLoss = Device.Allocate<float>(n);
            using var grad = Device.Allocate<float>((long)n * c);
            float loss = op.ForwardBackward(x, y, n, c, grad, gradScale: gradScale, rowLoss: rowLoss);
            float[]? lse = null;
            if (withLse && op is FusedCrossEntropy fused)
            {
                using var lseBuffer = Device.Allocate<float>(n);
                fused.ForwardWithLogSumExp(x, y, n, c, lseBuffer);
                lse = lseBuffer.ToArray();
            }
            return new Outcome(loss, rowLoss.ToArray(), grad.ToArray(), lse);
        }
        finally
        {
            if (dispose)
                op.Dispose();
        }
    }

    private Outcome RunForward(FusedCrossEntropy op, float[] logits, int[] labels, int n, int c, bool withLse)
    {
        using (op)
        {
            using var x = Device.Upload<float>(logits);
            using var y = Device.Upload<int>(labels);
            using var rowLoss = Device.Allocate<float>(n);
            using var lse = Device.Allocate<float>(n);
            float loss = op.ForwardWithLogSumExp(x, y, n, c, withLse ? lse : null, rowLoss: rowLoss);
            return new Outcome(loss, rowLoss.ToArray(), null, withLse ? lse.ToArray() : null);
        }
    }

    private static void AssertBitwiseEqual(Outcome got, Outcome expected, string what)
    {
        Assert.Multiple(() =>
        {
            Assert.That(BitConverter.SingleToInt32Bits(got.Loss), Is.EqualTo(BitConverter.SingleToInt32Bits(expected.Loss)), $"{what}: loss");
            Assert.That(got.RowLoss, Is.EqualTo(expected.RowLoss), $"{what}: row losses");
            Assert.That(got.Grad, Is.EqualTo(expected.Grad), $"{what}: gradient");
        });
    }

    // The CPU device allows 96 KiB of shared memory per block (RowCases).
    private static bool Runs(RowKernelVariant variant, int c) => variant switch
    {
        RowKernelVariant.Warp => c <= RowDispatch.WarpMaxColumns,
        RowKernelVariant.Block => c <= 20000,
        _ => true,
    };

    private static CrossEntropyOptions Options(XentGoldenCase g, RowKernelVariant variant) => new()
    {
        Reduction = g.Reduction switch { RefReduction.Mean => Reduction.Mean, RefReduction.Sum => Reduction.Sum, _ => Reduction.None },
        IgnoreIndex = g.IgnoreIndex,
        LabelSmoothing = (float)g.LabelSmoothing,
        Variant = variant,
    };

    private static RefReduction ToRef(Reduction reduction) => reduction switch
    {
        Reduction.Mean => RefReduction.Mean,
        Reduction.Sum => RefReduction.Sum,
        _ => RefReduction.None,
    };

    private static double NaiveSmoothedLoss(XentGoldenCase g)
    {
        var p = ReferenceOps.Softmax(g.Logits, g.N, g.C);
        double total = 0;
        for (int r = 0; r < g.N; r++)
        {
            if (g.Labels[r] == g.IgnoreIndex)
                continue;
            double spread = 0;
            for (int j = 0; j < g.C; j++)
                spread += -Math.Log(Math.Max(p[(long)r * g.C + j], ReferenceOps.NaiveClip));
            double nll = -Math.Log(Math.Max(p[(long)r * g.C + g.Labels[r]], ReferenceOps.NaiveClip));
            total += (1 - g.LabelSmoothing) * nll + g.LabelSmoothing * spread / g.C;
        }
        return g.Reduction == RefReduction.Mean ? (g.Count == 0 ? 0 : total / g.Count) : total;
    }

    private static double GradScale(XentGoldenCase g) => g.Reduction == RefReduction.Mean ? 1.0 / Math.Max(1, g.Count) : 1.0;

    private static double SummedAtol(XentGoldenCase g) => LossAtol * (g.Reduction == RefReduction.Mean ? 1 : Math.Max(1, g.Count));

    private static double[] Scaled(double[] values, double factor) => values.Select(v => v * factor).ToArray();

    private static float[] Pick(float[] dense, XentGoldenCase g) => g.Values.Select(v => dense[(long)v.Row * g.C + v.Col]).ToArray();
}
