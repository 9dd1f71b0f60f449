using NUnit.Framework;
using Sharpmax.Ops;
using Sharpmax.Tests.Reference;

namespace Sharpmax.Tests.Ops;

/// <summary>The fused cross-entropy's optional terms: z-loss, logit softcapping and class weights, on every kernel
/// variant, against the float64 reference of <see cref="ReferenceCrossEntropyTerms"/>.</summary>
[TestFixture(DeviceKind.Cpu)]
[TestFixture(DeviceKind.Cuda)]
public sealed class CrossEntropyTermsTests(DeviceKind kind) : DeviceTestBase(kind)
{
    // Tolerances, |got − ref| ≤ atol + rtol·|ref|, CrossEntropyTests' with the terms' magnitudes folded in:
    // Row loss: atol 5e-5·wmax, rtol 1e-5. The log of a float row sum (relative error a few 1e-6) and the
    //   rounding of x − max (relative, hence the rtol), both scaled by a class weight of at most wmax; the z-term
    //   z·lse² is a product of two float roundings of lse (relative 2e-7 even at lse ≈ 1e4) and the softcapped
    //   logit cap·tanh(x/cap) is within 2 ulp of cap, 1e-6 absolute at cap = 5, below the atol.
    // Reduced loss: the row atol times the rows summed (a mean: times 1).
    // Gradient: atol 2e-5·scale·(the largest Σ target + 2·z·|lse|), rtol 2e-5. The gradient is
    //   (p·pscale − target)·scale with p's 2e-5 relative error (SoftmaxTests); near the label it cancels, so the
    //   error is absolute there, in units of scale·pscale. The softcap's chain factor 1 − tanh² is within 1e-6
    //   relative of its float64 value for |x/cap| ≤ 4 and rounds to 0 beyond (exactly 0 in both at |x| = 1e4).
    private const double LossAtol = 5e-5;
    private const double LossRtol = 1e-5;
    private const double GradAtol = 2e-5;
    private const double GradRtol = 2e-5;

    private static readonly RowKernelVariant[] s_variants =
        [RowKernelVariant.Row, RowKernelVariant.Warp, RowKernelVariant.Block, RowKernelVariant.Online];

    /// <summary>The term settings the sweep runs: each alone, weights with smoothing, and everything at once.</summary>
    private static readonly (string Name, float Z, float Cap, bool Weighted, float Smoothing, Reduction Reduction)[] s_settings =
    [
        ("zloss", 1e-4f, 0f, false, 0f, Reduction.Mean),
        ("zloss_smooth_sum", 1e-3f, 0f, false, 0.1f, Reduction.Sum),
        ("softcap", 0f, 5f, false, 0f, Reduction.Mean),
        ("softcap_smooth_sum", 0f, 30f, false, 0.1f, Reduction.Sum),
        ("weights", 0f, 0f, true, 0f, Reduction.Mean),
        ("weights_smooth", 0f, 0f, true, 0.1f, Reduction.Mean),
        ("weights_smooth_none", 0f, 0f, true, 0.2f, Reduction.None),
        ("all", 1e-4f, 5f, true, 0.1f, Reduction.Mean),
    ];

    public static IEnumerable<TestCaseData> Sweep()
    {
        foreach (var variant in s_variants)
            foreach (int c in new[] { 1, 10, 33, 1000, 30000 })
            {
                if (variant == RowKernelVariant.Warp && c > RowDispatch.WarpMaxColumns)
                    continue;
                if (variant == RowKernelVariant.Block && c > 20000)
                    continue;
                foreach (int n in c >= 30000 ? new[] { 1, 7 } : new[] { 1, 37 })
                    foreach (var s in s_settings)
                        yield return new TestCaseData(variant, n, c, s.Name).SetArgDisplayNames(variant.ToString(), $"N={n}", $"C={c}", s.Name);
            }
    }

    [TestCaseSource(nameof(Sweep))]
    public void Every_variant_matches_the_float64_reference(RowKernelVariant variant, int n, int c, string setting)
    {
        var s = s_settings.Single(x => x.Name == setting);
        // RowCases' logits (±1e4 entries, −inf entries, an all −inf row, logits near 88.7) and labels (0, C − 1,
        // ignored rows).
        var logits = RowCases.Logits(seed: (ulong)(n * 31 + c), n, c);
        var labels = RowCases.Labels(seed: (ulong)(n + 3 * c), n, c, ignoreFraction: 0.1);
        var weights = s.Weighted ? Weights(c, seed: (ulong)c) : null;
        using var weightBuffer = weights is null ? null : Device.Upload<float>(weights);
        var options = new CrossEntropyOptions
        {
            Reduction = s.Reduction, LabelSmoothing = s.Smoothing, ZLossScale = s.Z, Softcap = s.Cap,
            ClassWeights = weightBuffer, Variant = variant,
        };
        var got = Run(options, logits, labels, n, c, gradScale: 0.5f);
        var want = ReferenceCrossEntropyTerms.Compute(logits, labels, n, c, Terms(s.Reduction, s.Smoothing, s.Z, s.Cap, weights));
        AssertMatches(got, want, labels.Count(y => y != RandomData.IgnoreIndex), c, 0.5, s.Z, weights, $"{variant} N={n} C={c} {setting}");
    }

    public static IEnumerable<TestCaseData> GoldenVariants()
    {
        foreach (var g in GoldenCases.XentTerms)
            foreach (var variant in s_variants)
                if (variant != RowKernelVariant.Warp || g.C <= RowDispatch.WarpMaxColumns)
                    yield return new TestCaseData(g.Name, variant).SetArgDisplayNames(g.Name, variant.ToString());
    }

    [TestCaseSource(nameof(GoldenVariants))]
    public void Every_variant_matches_the_NumPy_golden_case(string name, RowKernelVariant variant)
    {
        var g = GoldenCases.XentTermsCase(name);
        using var weights = g.Weights is null ? null : Device.Upload<float>(g.Weights);
        var options = new CrossEntropyOptions
        {
            Reduction = g.Reduction switch { RefReduction.Mean => Reduction.Mean, RefReduction.Sum => Reduction.Sum, _ => Reduction.None },
            IgnoreIndex = g.IgnoreIndex, LabelSmoothing = (float)g.LabelSmoothing, ZLossScale = (float)g.ZLossScale,
            Softcap = (float)g.Softcap, ClassWeights = weights, Variant = variant,
        };
        var got = Run(options, g.Logits, g.Labels, g.N, g.C);
        var want = new CrossEntropyTermsReference(g.RowLoss, g.Loss, g.Grad, g.Lse, g.ZLoss, g.Divisor);
        AssertMatches(got, want, g.Labels.Count(y => y != g.IgnoreIndex), g.C, 1.0, g.ZLossScale, g.Weights, $"{name} ({variant})");
    }

    [TestCaseSource(typeof(GoldenCases), nameof(GoldenCases.XentTermsNames))]
    public void The_float64_reference_agrees_with_the_golden_case(string name)
    {
        // Two float64 computations of one definition (the script's was checked against PyTorch where torch was
        // importable): they differ only in summation order, a few ulp of float64, hence 1e-12 (1e-10 on the
        // gradient, whose terms cancel near the label).
        var g = GoldenCases.XentTermsCase(name);
        var r = ReferenceCrossEntropyTerms.Compute(g.Logits, g.Labels, g.N, g.C, new CrossEntropyTerms
        {
            Reduction = g.Reduction, IgnoreIndex = g.IgnoreIndex, LabelSmoothing = g.LabelSmoothing, ZLoss = g.ZLossScale,
            Softcap = g.Softcap, Weights = g.Weights?.Select(v => (double)v).ToArray(),
        });
        Assert.Multiple(() =>
        {
            AssertClose.Scalar(r.Loss, g.Loss, 1e-12, 1e-12, $"{name}: loss");
            AssertClose.Tensor(r.RowLoss, g.RowLoss, 1e-12, 1e-12, $"{name}: row losses");
            AssertClose.Tensor(r.Lse, g.Lse, 1e-12, 1e-12, $"{name}: lse");
            AssertClose.Tensor(r.ZLoss, g.ZLoss, 1e-12, 1e-12, $"{name}: z-loss");
            AssertClose.Tensor(r.Gradient, g.Grad, 1e-12, 1e-10, $"{name}: gradient", g.C);
            Assert.That(r.Divisor, Is.EqualTo(g.Divisor).Within(1e-12), $"{name}: divisor");
        });
    }

    [Test]
    public void The_terms_at_their_off_values_give_bitwise_the_default_results([Values] RowKernelVariant variant)
    {
        if (variant == RowKernelVariant.Auto)
            variant = RowKernelVariant.Row;
        const int n = 37, c = 200;
        var logits = RowCases.Logits(seed: 5, n, c);
        var labels = RowCases.Labels(seed: 6, n, c, ignoreFraction: 0.1);
        var plain = Run(new CrossEntropyOptions { LabelSmoothing = 0.1f, Variant = variant }, logits, labels, n, c);
        var off = Run(new CrossEntropyOptions { LabelSmoothing = 0.1f, Variant = variant, ZLossScale = 0f, Softcap = 0f }, logits, labels, n, c);
        Assert.Multiple(() =>
        {
            Assert.That(BitConverter.SingleToInt32Bits(off.Loss), Is.EqualTo(BitConverter.SingleToInt32Bits(plain.Loss)), "loss");
            Assert.That(off.RowLoss, Is.EqualTo(plain.RowLoss), "row losses");
            Assert.That(off.Grad, Is.EqualTo(plain.Grad), "gradient");
            Assert.That(off.Lse, Is.EqualTo(plain.Lse), "log-sum-exp");
            Assert.That(off.ZLoss, Is.All.Zero, "z-loss terms");
        });
    }

    public static IEnumerable<TestCaseData> FiniteDifferenceCases()
    {
        foreach (var variant in s_variants)
            foreach (var (name, z, cap) in new[] { ("zloss", 0.05, 0.0), ("softcap", 0.0, 3.0), ("both", 0.05, 3.0) })
                yield return new TestCaseData(variant, name, z, cap).SetArgDisplayNames(variant.ToString(), name);
    }

    [TestCaseSource(nameof(FiniteDifferenceCases))]
    public void The_gradient_is_the_finite_difference_of_the_loss(RowKernelVariant variant, string name, double z, double cap)
    {
        // Central differences of the float64 reference's loss, h = 1e-5: truncation h²·|f'''| ~ 1e-10 and rounding
        // 1e-16/h ~ 1e-11, so the reference's analytic gradient must agree to 1e-8; the kernel's gradient to the sweep's
        // float32 tolerance. Logits up to ±6 put x/cap in the curved part of tanh (cap = 3).
        const int n = 4, c = 7;
        var logits = new RandomData(77).Logits(n, c).Select(v => v * 0.75f).ToArray();
        int[] labels = [0, 6, RandomData.IgnoreIndex, 3];
        var terms = Terms(Reduction.Mean, 0.1, z, cap, null);
        var analytic = ReferenceCrossEntropyTerms.Compute(logits, labels, n, c, terms);
        var x = logits.Select(v => (double)v).ToArray();
        var numeric = new double[x.Length];
        const double h = 1e-5;
        for (int i = 0; i < x.Length; i++)
        {
            double keep = x[i];
            x[i] = keep + h;
            double up = ReferenceCrossEntropyTerms.Compute(x, labels, n, c, terms).Loss;
            x[i] = keep - h;
            double down = ReferenceCrossEntropyTerms.Compute(x, labels, n, c, terms).Loss;
            x[i] = keep;
            numeric[i] = (up - down) / (2 * h);
        }
        var got = Run(new CrossEntropyOptions { LabelSmoothing = 0.1f, ZLossScale = (float)z, Softcap = (float)cap, Variant = variant },
            logits, labels, n, c);
        Assert.Multiple(() =>
        {
            AssertClose.Tensor(analytic.Gradient, numeric, 1e-8, 0, $"{name}: the reference's gradient against finite differences", c);
            AssertClose.Tensor(got.Grad, numeric, GradAtol, GradRtol, $"{name} ({variant}): the kernel's gradient against finite differences", c);
        });
    }

    [Test]
    public void Class_weights_scale_the_rows_and_a_mean_is_invariant_to_scaling_every_weight([Values] RowKernelVariant variant)
    {
        if (variant == RowKernelVariant.Auto)
            variant = RowKernelVariant.Online;
        const int n = 37, c = 20;
        var logits = RowCases.Logits(seed: 9, n, c);
        var labels = RowCases.Labels(seed: 10, n, c, ignoreFraction: 0.1);
        using var ones = Device.Upload<float>(Enumerable.Repeat(1f, c).ToArray());
        using var twos = Device.Upload<float>(Enumerable.Repeat(2f, c).ToArray());
        var plain = Run(new CrossEntropyOptions { LabelSmoothing = 0.1f, Variant = variant }, logits, labels, n, c);
        var one = Run(new CrossEntropyOptions { LabelSmoothing = 0.1f, Variant = variant, ClassWeights = ones }, logits, labels, n, c);
        var two = Run(new CrossEntropyOptions { LabelSmoothing = 0.1f, Variant = variant, ClassWeights = twos }, logits, labels, n, c);
        // Weights of 1 are the unweighted loss up to the rounding of a different but equivalent formula; weights of
        // 2 double each row and the divisor, so the mean and its gradient are those of weights 1 (a power of two:
        // exactly, up to the smoothing term's order of operations). Tolerances: the sweep's.
        Assert.Multiple(() =>
        {
            AssertClose.Scalar(one.Loss, plain.Loss, LossAtol, LossRtol, "weights 1: mean");
            AssertClose.Tensor(one.Grad, plain.Grad.Select(v => (double)v).ToArray(), GradAtol / n, GradRtol, "weights 1: gradient", c);
            AssertClose.Tensor(two.RowLoss, plain.RowLoss.Select(v => 2.0 * v).ToArray(), 2 * LossAtol, LossRtol, "weights 2: row losses doubled");
            AssertClose.Scalar(two.Loss, plain.Loss, LossAtol, LossRtol, "weights 2: the same mean");
            AssertClose.Tensor(two.Grad, plain.Grad.Select(v => (double)v).ToArray(), GradAtol / n, GradRtol, "weights 2: the same gradient", c);
        });
    }

    [Test]
    public void A_weighted_mean_whose_weights_sum_to_zero_is_zero_with_a_zero_gradient()
    {
        const int n = 3, c = 4;
        var logits = new RandomData(3).Logits(n, c);
        int[] labels = [1, 1, RandomData.IgnoreIndex];
        using var weights = Device.Upload<float>(new[] { 1f, 0f, 1f, 1f });
        var got = Run(new CrossEntropyOptions { ClassWeights = weights }, logits, labels, n, c);
        Assert.Multiple(() =>
        {
            Assert.That(got.Loss, Is.Zero, "PyTorch gives NaN; Sharpmax's mean over nothing is 0, as for an all-ignored batch");
            Assert.That(got.Grad, Is.All.Zero);
        });
    }

    [Test]
    public void Softcapping_bounds_the_logits_so_infinities_and_1e4_become_finite_rows()
    {
        // cap·tanh(±∞/cap) = ±cap: a row of all −∞ is uniform, a label at −∞ has a finite loss.
        const int n = 3, c = 4;
        float inf = float.PositiveInfinity;
        float[] logits = [-inf, -inf, -inf, -inf, -inf, 0f, 1f, 2f, 1e4f, -1e4f, 0f, 0f];
        int[] labels = [2, 0, 1];
        var got = Run(new CrossEntropyOptions { Softcap = 2f, Reduction = Reduction.None }, logits, labels, n, c);
        var want = ReferenceCrossEntropyTerms.Compute(logits, labels, n, c, Terms(Reduction.None, 0, 0, 2, null));
        Assert.Multiple(() =>
        {
            Assert.That(got.RowLoss[0], Is.EqualTo(Math.Log(4)).Within(1e-6), "all −∞: uniform over 4 classes");
            Assert.That(got.RowLoss.All(float.IsFinite), Is.True);
            AssertClose.Tensor(got.RowLoss, want.RowLoss, LossAtol, LossRtol, "row losses", c);
            AssertClose.Tensor(got.Grad, want.Gradient, GradAtol, GradRtol, "gradient", c);
            AssertClose.Tensor(got.Lse, want.Lse, LossAtol, LossRtol, "log-sum-exp of the capped logits", c);
        });
    }

    [Test]
    public void After_a_bad_label_error_the_next_call_is_bitwise_that_of_a_fresh_op([Values(RowKernelVariant.Row, RowKernelVariant.Online)] RowKernelVariant variant)
    {
        const int n = 9, c = 12;
        var logits = RowCases.Logits(seed: 11, n, c);
        var labels = RowCases.Labels(seed: 12, n, c);
        var bad = (int[])labels.Clone();
        bad[4] = c;
        using var weights = Device.Upload<float>(Weights(c, seed: 13));
        var options = new CrossEntropyOptions { LabelSmoothing = 0.1f, ZLossScale = 1e-3f, Softcap = 4f, ClassWeights = weights, Variant = variant };
        using var op = new FusedCrossEntropy(Device, options);
        Assert.That(() => Run(op, bad, logits, n, c), Throws.InstanceOf<ArgumentOutOfRangeException>().With.Message.Contain("row 4"));
        var after = Run(op, labels, logits, n, c);
        var fresh = Run(options, logits, labels, n, c);
        Assert.Multiple(() =>
        {
            Assert.That(BitConverter.SingleToInt32Bits(after.Loss), Is.EqualTo(BitConverter.SingleToInt32Bits(fresh.Loss)), "loss");
            Assert.That(after.RowLoss, Is.EqualTo(fresh.RowLoss), "row losses");
            Assert.That(after.Grad, Is.EqualTo(fresh.Grad), "gradient");
            Assert.That(after.ZLoss, Is.EqualTo(fresh.ZLoss), "z-loss terms");
        });
    }

    [Test]
    public void Results_with_every_term_are_bitwise_identical_run_to_run_and_under_a_shuffled_schedule([Values(RowKernelVariant.Row, RowKernelVariant.Warp, RowKernelVariant.Block, RowKernelVariant.Online)] RowKernelVariant variant)
    {
        const int n = 37, c = 300;
        var logits = RowCases.Logits(seed: 21, n, c);
        var labels = RowCases.Labels(seed: 22, n, c, ignoreFraction: 0.2);
        using var weights = Device.Upload<float>(Weights(c, seed: 23));
        var options = new CrossEntropyOptions { LabelSmoothing = 0.1f, ZLossScale = 1e-3f, Softcap = 15f, ClassWeights = weights, Variant = variant };
        var first = Run(options, logits, labels, n, c);
        var runs = new List<(string What, Outcome Outcome)> { ("second run", Run(options, logits, labels, n, c)) };
        if (Kind == DeviceKind.Cpu)
        {
            // The CPU device's randomized schedule shuffles a block's threads between barriers (the weight-sum
            // kernel's tree and the block kernels' reductions included); the base class resets it to 0.
            foreach (ulong seed in new ulong[] { 12345, 777 })
            {
                Device.SetScheduleSeed(seed);
                runs.Add(($"randomized schedule, seed {seed}", Run(options, logits, labels, n, c)));
            }
            Device.SetScheduleSeed(0);
        }
        Assert.Multiple(() =>
        {
            foreach (var (what, o) in runs)
            {
                Assert.That(BitConverter.SingleToInt32Bits(o.Loss), Is.EqualTo(BitConverter.SingleToInt32Bits(first.Loss)), $"{what}: loss");
                Assert.That(o.RowLoss, Is.EqualTo(first.RowLoss), $"{what}: row losses");
                Assert.That(o.Grad, Is.EqualTo(first.Grad), $"{what}: gradient");
                Assert.That(o.ZLoss, Is.EqualTo(first.ZLoss), $"{what}: z-loss terms");
            }
        });
    }

    [Test]
    public void The_device_side_form_with_every_term_sums_the_synchronous_losses_bit_for_bit([Values] bool backward)
    {
        const int n = 37, c = 50;
        var logits = RowCases.Logits(seed: 31, n, c);
        var labels = RowCases.Labels(seed: 32, n, c, ignoreFraction: 0.2);
        using var weights = Device.Upload<float>(Weights(c, seed: 33));
        var options = new CrossEntropyOptions { LabelSmoothing = 0.1f, ZLossScale = 1e-3f, Softcap = 6f, ClassWeights = weights };
        using var op = new FusedCrossEntropy(Device, options);
        using var totals = new CrossEntropyTotals(Device);
        using var x = Device.Upload<float>(logits);
        using var y = Device.Upload<int>(labels);
        using var grad = Device.Allocate<float>((long)n * c);
        using var syncGrad = Device.Allocate<float>((long)n * c);
        double expected = 0;
        for (int call = 0; call < 3; call++)
        {
            float loss = backward ? op.ForwardBackward(x, y, n, c, syncGrad) : op.Forward(x, y, n, c);
            expected += (double)loss * 37;
            if (backward)
                op.ForwardBackwardInto(x, y, n, c, grad, totals, weight: 37);
            else
                op.ForwardInto(x, y, n, c, totals, weight: 37);
        }
        var read = totals.Read();
        Assert.Multiple(() =>
        {
            Assert.That(read.Calls, Is.EqualTo(3));
            Assert.That(read.LossSum, Is.EqualTo(expected), "the same double sum, bit for bit");
            if (backward)
                Assert.That(grad.ToArray(), Is.EqualTo(syncGrad.ToArray()), "the same gradient");
        });
    }

    [Test]
    public void The_naive_chain_refuses_the_fused_only_terms()
    {
        using var weights = Device.Upload<float>(new[] { 1f, 2f });
        Assert.Multiple(() =>
        {
            Assert.That(() => new NaiveCrossEntropy(Device, new CrossEntropyOptions { ZLossScale = 1e-4f }), Throws.InstanceOf<NotSupportedException>().With.Message.Contain("fused-only"));
            Assert.That(() => new NaiveCrossEntropy(Device, new CrossEntropyOptions { Softcap = 30f }), Throws.InstanceOf<NotSupportedException>());
            Assert.That(() => new NaiveCrossEntropy(Device, new CrossEntropyOptions { ClassWeights = weights }), Throws.InstanceOf<NotSupportedException>());
            Assert.That(() => new NaiveCrossEntropy(Device, new CrossEntropyOptions { Softcap = 0f, ZLossScale = 0f }).Dispose(), Throws.Nothing, "off values are accepted");
        });
    }

    [Test]
    public void Bad_term_settings_are_rejected_with_a_message_naming_them()
    {
        using var weights = Device.Upload<float>(new[] { 1f, 2f });
        using var logits = Device.Allocate<float>(30);
        using var labels = Device.AllocateZeroed<int>(3);
        Assert.Multiple(() =>
        {
            Assert.That(() => new FusedCrossEntropy(Device, new CrossEntropyOptions { ZLossScale = -1f }), Throws.InstanceOf<ArgumentOutOfRangeException>().With.Message.Contain("ZLossScale"));
            Assert.That(() => new FusedCrossEntropy(Device, new CrossEntropyOptions { ZLossScale = float.NaN }), Throws.InstanceOf<ArgumentOutOfRangeException>().With.Message.Contain("ZLossScale"));
            Assert.That(() => new FusedCrossEntropy(Device, new CrossEntropyOptions { Softcap = -2f }), Throws.InstanceOf<ArgumentOutOfRangeException>().With.Message.Contain("Softcap"));
            Assert.That(() => new FusedCrossEntropy(Device, new CrossEntropyOptions { Softcap = float.PositiveInfinity }), Throws.InstanceOf<ArgumentOutOfRangeException>().With.Message.Contain("Softcap"));
            using var op = new FusedCrossEntropy(Device, new CrossEntropyOptions { ClassWeights = weights });
            Assert.That(() => op.Forward(logits, labels, 3, 10), Throws.ArgumentException.With.Message.Contain("ClassWeights holds 2 floats").And.Message.Contain("C = 10"));
        });
    }

    // ---- helpers ------------------------------------------------------------------------------------------------

    private sealed record Outcome(float Loss, float[] RowLoss, float[] Grad, float[] Lse, float[] ZLoss);

    /// <summary>Seeded class weights in [0.25, 2): wmax = 2 in the tolerances.</summary>
    private static float[] Weights(int c, ulong seed) =>
        new RandomData(seed).Logits(1, c).Select(v => 1.125f + v / 8f * 0.875f).ToArray();

    private static CrossEntropyTerms Terms(Reduction reduction, double smoothing, double z, double cap, float[]? weights) => new()
    {
        Reduction = reduction switch { Reduction.Mean => RefReduction.Mean, Reduction.Sum => RefReduction.Sum, _ => RefReduction.None },
        LabelSmoothing = smoothing,
        ZLoss = z,
        Softcap = cap,
        Weights = weights?.Select(v => (double)v).ToArray(),
    };

    private Outcome Run(CrossEntropyOptions options, float[] logits, int[] labels, int n, int c, float gradScale = 1f)
    {
        using var op = new FusedCrossEntropy(Device, options);
        return Run(op, labels, logits, n, c, gradScale);
    }

    private Outcome Run(FusedCrossEntropy op, int[] labels, float[] logits, int n, int c, float gradScale = 1f)
    {
        using var x = Device.Upload<float>(logits);
        using var y = Device.Upload<int>(labels);
        using var rowLoss = Device.Allocate<float>(n);
        using var lse = Device.Allocate<float>(n);
        using var zLoss = Device.Allocate<float>(n);
        using var grad = Device.Allocate<float>((long)n * c);
        float loss = op.ForwardBackwardWithLogSumExp(x, y, n, c, grad, lse, gradScale: gradScale, rowLoss: rowLoss, rowZLoss: zLoss);
        using var forwardLoss = Device.Allocate<float>(n);
        float forward = op.ForwardWithLogSumExp(x, y, n, c, null, rowLoss: forwardLoss);
        Assert.That(BitConverter.SingleToInt32Bits(forward), Is.EqualTo(BitConverter.SingleToInt32Bits(loss)), "the forward alone gives the same loss");
        return new Outcome(loss, rowLoss.ToArray(), grad.ToArray(), lse.ToArray(), zLoss.ToArray());
    }

    private static void AssertMatches(Outcome got, CrossEntropyTermsReference want, int rows, int c, double gradScale, double z,
        float[]? weights, string what)
    {
        double wmax = weights is null ? 1 : weights.Max();
        double wtotal = weights is null ? c : weights.Sum(v => (double)v);
        double scale = gradScale * (want.Divisor == 0 ? 0 : 1 / want.Divisor);
        double lseMax = want.Lse.Where(double.IsFinite).Select(Math.Abs).DefaultIfEmpty(0).Max();
        double pscale = Math.Max(wmax, wtotal / c) + 2 * z * lseMax;
        // A reduced loss sums the rows' errors; a mean then divides them by its divisor.
        double reducedAtol = LossAtol * wmax * Math.Max(1, rows) * (want.Divisor == 1 ? 1 : scale / gradScale);
        Assert.Multiple(() =>
        {
            AssertClose.Tensor(got.RowLoss, want.RowLoss, LossAtol * wmax, LossRtol, $"{what}: row losses");
            AssertClose.Tensor(got.Lse, want.Lse, LossAtol, LossRtol, $"{what}: log-sum-exp");
            AssertClose.Tensor(got.ZLoss, want.ZLoss, LossAtol, LossRtol, $"{what}: z-loss terms");
            AssertClose.Scalar(got.Loss, want.Loss, reducedAtol, LossRtol, $"{what}: reduced loss");
            AssertClose.Tensor(got.Grad, want.Gradient.Select(v => v * gradScale).ToArray(), GradAtol * scale * pscale, GradRtol, $"{what}: gradient", c);
        });
    }
}
