using System.Globalization;
using NUnit.Framework;
using Sharpmax.Ops;
using Sharpmax.Tests.Reference;

namespace Sharpmax.Tests.Ops;

/// <summary>
/// Fused linear + cross-entropy (kernels/linear_xent.cu) against a float64 reference: the logits H·W + b in
/// float64, then <see cref="ReferenceCrossEntropyTerms"/>'s loss and gradient G, then dH = G·Wᵀ, dW = Hᵀ·G,
/// db = Σ_rows G, all in float64. Both variants, both weight layouts, every cross-entropy setting.
/// </summary>
[TestFixture(DeviceKind.Cpu)]
[TestFixture(DeviceKind.Cuda)]
public sealed class LinearCrossEntropyTests(DeviceKind kind) : DeviceTestBase(kind)
{
    // Tolerances. Every float32 product of K terms is within γ·Σ_k |h_k·w_k| of its float64 value, γ = K·2^-24
    // (the classical bound for a sum in any order; the observed error is nearer √K·2^-24). A logit's error δ_r
    // (the row's largest such bound) moves the row's loss by at most 2·δ_r (lse and x_y are each 1-Lipschitz) and
    // each p by at most 2·δ_r·p. On top come the fused cross-entropy's own tolerances (CrossEntropyTermsTests:
    // loss 5e-5·wmax + 1e-5 relative, gradient 2e-5·scale·pscale + 2e-5 relative). dH, dW and db then carry the
    // gradient's bound through their own sums: Σ bound(G)·|W| + γ·Σ|G·W| (γ of their own length).
    private const double Eps = 1.0 / (1 << 24);

    public static IEnumerable<TestCaseData> Cases()
    {
        var settings = new[] { "plain", "smooth_sum", "none", "zloss", "softcap", "weights_smooth", "all" };
        foreach (var variant in new[] { LinearCrossEntropyVariant.Simd, LinearCrossEntropyVariant.Block })
            foreach (var layout in new[] { WeightLayout.InputsByClasses, WeightLayout.ClassesByInputs })
                foreach (var (n, k, c) in new[] { (1, 1, 1), (5, 3, 10), (37, 33, 130), (50, 20, 1000) })
                    foreach (var setting in settings)
                    {
                        // The block variant runs its threads as fibers here: the large shape only for the plain setting.
                        if (variant == LinearCrossEntropyVariant.Block && c == 1000 && setting != "plain")
                            continue;
                        yield return new TestCaseData(variant, layout, n, k, c, setting)
                            .SetArgDisplayNames(variant.ToString(), layout.ToString(), $"N={n}", $"K={k}", $"C={c}", setting);
                    }
    }

    [TestCaseSource(nameof(Cases))]
    public void Matches_the_float64_reference(LinearCrossEntropyVariant variant, WeightLayout layout, int n, int k, int c, string setting)
    {
        SkipSimdOnCuda(variant);
        var (options, terms, weights) = Setting(setting, c);
        using var weightBuffer = weights is null ? null : Device.Upload<float>(weights);
        options = options with { ClassWeights = weightBuffer };
        var p = Problem.Make(seed: (ulong)(n * 7 + k * 3 + c), n, k, c, layout, withBias: setting != "none");
        using var op = new LinearCrossEntropy(Device, options, variant);
        var got = Run(op, p, gradScale: 0.5f);
        var want = Reference(p, terms with { Weights = weights?.Select(v => (double)v).ToArray() }, 0.5);
        AssertWithinBounds(got, want, p, $"{variant} {layout} N={n} K={k} C={c} {setting}");
    }

    [Test]
    public void Both_layouts_give_bitwise_the_same_results_run_to_run_and_under_a_shuffled_schedule([Values] WeightLayout layout)
    {
        var p = Problem.Make(seed: 21, n: 100, k: 40, c: 300, layout, withBias: true);
        using var op = new LinearCrossEntropy(Device, new CrossEntropyOptions { LabelSmoothing = 0.1f, ZLossScale = 1e-4f });
        var first = Run(op, p, 1f);
        var second = Run(op, p, 1f);
        AssertBitwiseEqual(second, first, "second run");
        if (Kind == DeviceKind.Cpu)
            foreach (ulong seed in new ulong[] { 12345, 777 })
            {
                Device.SetScheduleSeed(seed);
                AssertBitwiseEqual(Run(op, p, 1f), first, $"randomized schedule, seed {seed}");
            }
    }

    [Test]
    public void The_loss_matches_the_unfused_chain_and_the_logits_are_never_allocated()
    {
        // N×C = 4 MiB of logits, which the unfused chain holds twice (logits and their gradient).
        const int n = 256, k = 64, c = 4096;
        var p = Problem.Make(seed: 5, n, k, c, WeightLayout.InputsByClasses, withBias: true);
        using var h = Device.Upload<float>(p.H);
        using var w = Device.Upload<float>(p.W);
        using var b = Device.Upload<float>(p.B);
        using var y = Device.Upload<int>(p.Labels);
        using var dh = Device.Allocate<float>((long)n * k);
        using var dw = Device.Allocate<float>((long)k * c);
        using var db = Device.Allocate<float>(c);
        using var op = new LinearCrossEntropy(Device);
        // Warm up (workspaces), then measure the high-water mark of one call above what was live before it.
        op.ForwardBackward(new(h, n, k), new(w, k, c), WeightLayout.InputsByClasses, b, y, new(dh, n, k), new(dw, k, c), db);
        long before = Device.ResetPeakLiveBytes();
        float fused = op.ForwardBackward(new(h, n, k), new(w, k, c), WeightLayout.InputsByClasses, b, y, new(dh, n, k), new(dw, k, c), db);
        long extra = Device.PeakLiveBytes - before;
        long logitsBytes = (long)n * c * sizeof(float);
        TestContext.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"peak above the inputs and outputs: {extra} bytes; N×C logits: {logitsBytes} bytes"));
        Assert.That(extra, Is.LessThanOrEqualTo(0), "the call allocated nothing once warm");

        // The unfused chain: Y = H·W + b into an N×C buffer, the fused cross-entropy, its gradient.
        using var logits = Device.Allocate<float>((long)n * c);
        new Linear(Device).Forward(new DeviceMatrix(h, n, k), new(w, k, c), b, new(logits, n, c));
        using var xent = new FusedCrossEntropy(Device);
        float chain = xent.Forward(logits, y, n, c);
        var want = Reference(p, new CrossEntropyTerms(), 1.0);
        AssertClose.Scalar(fused, want.Loss, 1e-5, 1e-5, "fused loss");
        AssertClose.Scalar(chain, want.Loss, 1e-5, 1e-5, "unfused loss");
        // The workspace the op keeps is O(N + tile), not O(N·C).
        long workspace = 3L * n * sizeof(float) + Device.MultiprocessorCount * LinearCrossEntropy.SimdWorkspaceFloats(k) * sizeof(float);
        Assert.That(workspace, Is.LessThan(logitsBytes / 4));
    }

    [Test]
    public void A_bad_label_names_its_row_leaves_the_gradients_untouched_and_the_next_call_works()
    {
        var p = Problem.Make(seed: 3, n: 9, k: 5, c: 7, WeightLayout.ClassesByInputs, withBias: false);
        p.Labels[4] = 7;
        using var h = Device.Upload<float>(p.H);
        using var w = Device.Upload<float>(p.W);
        using var y = Device.Upload<int>(p.Labels);
        using var dw = Device.Upload<float>(Enumerable.Repeat(42f, 7 * 5).ToArray());
        using var dh = Device.Upload<float>(Enumerable.Repeat(43f, 9 * 5).ToArray());
        using var op = new LinearCrossEntropy(Device);
        // dH too: on the CPU device the forward itself makes dH, and must not start before every label is known good.
        var e = Assert.Throws<ArgumentOutOfRangeException>(() =>
            op.ForwardBackward(new(h, 9, 5), new(w, 7, 5), WeightLayout.ClassesByInputs, null, y, new(dh, 9, 5), new(dw, 7, 5), null))!;
        Assert.That(e.Message, Does.Contain("row 4").And.Contain("7"));
        Assert.That(dw.ToArray(), Is.All.EqualTo(42f), "dW untouched");
        Assert.That(dh.ToArray(), Is.All.EqualTo(43f), "dH untouched");
        p.Labels[4] = 6;
        y.CopyFrom(p.Labels);
        float loss = op.ForwardBackward(new(h, 9, 5), new(w, 7, 5), WeightLayout.ClassesByInputs, null, y, new(dh, 9, 5), new(dw, 7, 5), null);
        var want = Reference(p, new CrossEntropyTerms(), 1.0);
        AssertClose.Scalar(loss, want.Loss, 1e-5, 1e-5, "the call after the error");
        Assert.That(dh.ToArray().Zip(want.DH, (g, r) => Math.Abs(g - r)).Max(), Is.LessThan(1e-5), "dH of the call after the error");
    }

    [Test]
    public void Extreme_and_masked_logits_stay_finite_and_ignored_rows_contribute_nothing()
    {
        // Logits of ±1e4 (the weights scaled up), a class masked by a −inf bias, labels at both edges, ignored rows.
        var p = Problem.Make(seed: 9, n: 20, k: 8, c: 70, WeightLayout.InputsByClasses, withBias: true);
        for (int i = 0; i < p.W.Length; i++)
            p.W[i] *= 4000f;
        p.B[3] = float.NegativeInfinity;
        p.Labels[0] = 0;
        p.Labels[1] = 69;
        p.Labels[2] = -100;
        p.Labels[3] = -100;
        using var op = new LinearCrossEntropy(Device);
        var got = Run(op, p, 1f);
        var want = Reference(p, new CrossEntropyTerms(), 1.0);
        Assert.That(got.RowLoss.All(float.IsFinite), Is.True, "every row loss finite");
        Assert.That(got.DW.All(float.IsFinite) && got.DH.All(float.IsFinite), Is.True, "gradients finite");
        Assert.That(got.RowLoss[2], Is.EqualTo(0f));
        Assert.That(got.DH.Skip(2 * 8).Take(16), Is.All.EqualTo(0f), "ignored rows' dH");
        AssertWithinBounds(got, want, p, "extreme logits");
    }

    [TestCase(0.5f, "plain")]
    [TestCase(0.5f, "all")]
    [TestCase(3f, "plain")]
    [TestCase(3f, "weights_smooth")]
    public void A_row_max_that_grows_with_every_class_tile_keeps_dH_right(float step, string setting)
    {
        // Logits rising with the class index (bias c·step): each 64-class tile raises the row max, by 32 and by 192,
        // so the CPU device's forward rescales its running Σ e·W at every tile, by factors down to exp(-192) = 0
        // ("all" caps the logits at 5: small rises, the softcap's chain factor in the sums).
        const int n = 13, k = 17, c = 300;
        var (options, terms, weights) = Setting(setting, c);
        using var weightBuffer = weights is null ? null : Device.Upload<float>(weights);
        options = options with { ClassWeights = weightBuffer };
        var p = Problem.Make(seed: 77, n, k, c, WeightLayout.InputsByClasses, withBias: true);
        for (int j = 0; j < c; j++)
            p.B[j] = j * step;
        for (int r = 0; r < n; r++)
            p.Labels[r] = r % 3 == 0 ? c - 1 : (r * 37) % c;  // some labels hold the max, most do not
        using var op = new LinearCrossEntropy(Device, options);
        var got = Run(op, p, 1f);
        var want = Reference(p, terms with { Weights = weights?.Select(v => (double)v).ToArray() }, 1.0);
        AssertWithinBounds(got, want, p, $"rising logits, step {step}, {setting}");
    }

    [Test]
    public void No_rows_give_a_zero_loss_and_zero_weight_gradients()
    {
        using var h = Device.Allocate<float>(4);
        using var w = Device.Upload<float>(new float[4 * 3]);
        using var y = Device.Allocate<int>(1);
        using var dw = Device.Upload<float>(Enumerable.Repeat(1f, 12).ToArray());
        using var db = Device.Upload<float>([1f, 1f, 1f]);
        using var op = new LinearCrossEntropy(Device);
        float loss = op.ForwardBackward(new(h, 0, 4), new(w, 4, 3), WeightLayout.InputsByClasses, null, y, null, new(dw, 4, 3), db);
        Assert.Multiple(() =>
        {
            Assert.That(loss, Is.EqualTo(0f));
            Assert.That(dw.ToArray(), Is.All.EqualTo(0f));
            Assert.That(db.ToArray(), Is.All.EqualTo(0f));
        });
    }

    [Test]
    public void Bad_shapes_and_aliased_outputs_are_refused_with_a_message_naming_them()
    {
        using var h = Device.Allocate<float>(6 * 4);
        using var w = Device.Allocate<float>(4 * 3);
        using var y = Device.Allocate<int>(6);
        using var op = new LinearCrossEntropy(Device);
        var e1 = Assert.Throws<ArgumentException>(() => op.Forward(new(h, 6, 4), new(w, 3, 4), WeightLayout.InputsByClasses, null, y))!;
        Assert.That(e1.Message, Does.Contain("H is 6×4").And.Contain("W is 3×4"));
        var e2 = Assert.Throws<ArgumentException>(() => op.Forward(new(h, 6, 4), new(w, 4, 3), WeightLayout.ClassesByInputs, null, y))!;
        Assert.That(e2.Message, Does.Contain("C×K"));
        var e3 = Assert.Throws<ArgumentException>(() =>
            op.ForwardBackward(new(h, 6, 4), new(w, 4, 3), WeightLayout.InputsByClasses, null, y, new(h, 6, 4), null, null))!;
        Assert.That(e3.Message, Does.Contain("dH shares a buffer"));
        var e4 = Assert.Throws<ArgumentException>(() =>
            op.ForwardBackward(new(h, 6, 4), new(w, 4, 3), WeightLayout.InputsByClasses, null, y, null, new(w, 3, 4), null))!;
        Assert.That(e4.Message, Does.Contain("dW is 3×4"));
        using var shortLabels = Device.Allocate<int>(5);
        Assert.Throws<ArgumentException>(() => op.Forward(new(h, 6, 4), new(w, 4, 3), WeightLayout.InputsByClasses, null, shortLabels));
    }

    // ---- helpers --------------------------------------------------------------------------------------------

    private void SkipSimdOnCuda(LinearCrossEntropyVariant variant)
    {
        if (Kind == DeviceKind.Cuda && variant == LinearCrossEntropyVariant.Simd)
            Assert.Ignore("The _simd kernels are the CPU device's only.");
    }

    private static (CrossEntropyOptions Options, CrossEntropyTerms Terms, float[]? Weights) Setting(string name, int c)
    {
        float[] weights = Enumerable.Range(0, c).Select(j => 0.25f + (j * 37 % 11) / 4f).ToArray();
        return name switch
        {
            "plain" => (new(), new(), null),
            "smooth_sum" => (new() { LabelSmoothing = 0.1f, Reduction = Reduction.Sum },
                new() { LabelSmoothing = 0.1, Reduction = RefReduction.Sum }, null),
            "none" => (new() { Reduction = Reduction.None }, new() { Reduction = RefReduction.None }, null),
            "zloss" => (new() { ZLossScale = 1e-3f }, new() { ZLoss = 1e-3 }, null),
            "softcap" => (new() { Softcap = 5f }, new() { Softcap = 5 }, null),
            "weights_smooth" => (new() { LabelSmoothing = 0.1f }, new() { LabelSmoothing = 0.1 }, weights),
            "all" => (new() { LabelSmoothing = 0.1f, ZLossScale = 1e-4f, Softcap = 5f },
                new() { LabelSmoothing = 0.1, ZLoss = 1e-4, Softcap = 5 }, weights),
            _ => throw new ArgumentException(name),
        };
    }

    /// <summary>One problem: H (N×K, dense), W in its layout (dense), b, labels with ignored rows and both edges.</summary>
    private sealed record Problem(int N, int K, int C, WeightLayout Layout, float[] H, float[] W, float[] B, int[] Labels)
    {
        public static Problem Make(ulong seed, int n, int k, int c, WeightLayout layout, bool withBias)
        {
            var h = RandomData.GoldenUniform(seed, (long)n * k, 2.0);
            var w = RandomData.GoldenUniform(seed + 1, (long)k * c, 1.0);
            var b = withBias ? RandomData.GoldenUniform(seed + 2, c, 1.0) : new float[c];
            var labels = RowCases.Labels(seed + 3, n, c, ignoreFraction: 0.1);
            return new Problem(n, k, c, layout, h, w, b, labels);
        }

        public double Wkc(int kk, int cc) => Layout == WeightLayout.InputsByClasses ? W[(long)kk * C + cc] : W[(long)cc * K + kk];
    }

    private sealed record Result(float Loss, float[] RowLoss, float[] Lse, float[] ZLoss, float[] DH, float[] DW, float[] DB);

    private Result Run(LinearCrossEntropy op, Problem p, float gradScale)
    {
        using var h = Device.Upload<float>(p.H);
        using var w = Device.Upload<float>(p.W);
        using var b = Device.Upload<float>(p.B);
        using var y = Device.Upload<int>(p.Labels);
        using var rowLoss = Device.Allocate<float>(p.N);
        using var lse = Device.Allocate<float>(p.N);
        using var z = Device.Allocate<float>(p.N);
        using var dh = Device.Allocate<float>((long)p.N * p.K);
        using var dw = Device.Allocate<float>((long)p.K * p.C);
        using var db = Device.Allocate<float>(p.C);
        var wm = p.Layout == WeightLayout.InputsByClasses ? new DeviceMatrix(w, p.K, p.C) : new DeviceMatrix(w, p.C, p.K);
        var dwm = wm with { Buffer = dw };
        float loss = op.ForwardBackward(new(h, p.N, p.K), wm, p.Layout, b, y, new(dh, p.N, p.K), dwm, db, gradScale, rowLoss, lse, z);
        return new Result(loss, rowLoss.ToArray(), lse.ToArray(), z.ToArray(), dh.ToArray(), dw.ToArray(), db.ToArray());
    }

    private sealed record Expected(double Loss, double[] RowLoss, double[] Lse, double[] ZLoss, double[] DH, double[] DW, double[] DB,
        double[] LossBound, double[] DHBound, double[] DWBound, double[] DBBound, double LossTotalBound);

    private static Expected Reference(Problem p, CrossEntropyTerms terms, double gradScale)
    {
        int n = p.N, k = p.K, c = p.C;
        var logits = new double[(long)n * c];
        var delta = new double[n];  // each row's logit error bound
        for (int r = 0; r < n; r++)
            for (int j = 0; j < c; j++)
            {
                double s = p.B[j], a = Math.Abs(p.B[j]);
                for (int kk = 0; kk < k; kk++)
                {
                    double t = p.H[(long)r * k + kk] * p.Wkc(kk, j);
                    s += t;
                    a += Math.Abs(t);
                }
                logits[(long)r * c + j] = s;
                if (double.IsFinite(a))
                    delta[r] = Math.Max(delta[r], (k + 2) * Eps * a);
            }
        var x = ReferenceCrossEntropyTerms.Compute(logits, p.Labels, n, c, terms);
        double wmax = terms.Weights?.Max() ?? 1.0;
        double scale = gradScale * (x.Divisor == 0 ? 0 : 1 / x.Divisor);
        var g = x.Gradient.Select(v => v * gradScale).ToArray();
        var gBound = new double[g.Length];
        var lossBound = new double[n];
        for (int r = 0; r < n; r++)
        {
            double pscale = wmax * (1 + terms.LabelSmoothing) + 2 * terms.ZLoss * Math.Abs(x.Lse[r]);
            lossBound[r] = 5e-5 * wmax + 1e-5 * Math.Abs(x.RowLoss[r]) + 2 * delta[r] * (wmax + 2 * terms.ZLoss * Math.Abs(x.Lse[r]));
            for (int j = 0; j < c; j++)
                gBound[(long)r * c + j] = 2e-5 * scale * pscale + 2e-5 * Math.Abs(g[(long)r * c + j]) + 2 * delta[r] * scale * pscale;
        }
        var dh = new double[(long)n * k];
        var dhB = new double[(long)n * k];
        for (int r = 0; r < n; r++)
            for (int kk = 0; kk < k; kk++)
            {
                double s = 0, b = 0, a = 0;
                for (int j = 0; j < c; j++)
                {
                    double wv = p.Wkc(kk, j);
                    s += g[(long)r * c + j] * wv;
                    b += gBound[(long)r * c + j] * Math.Abs(wv);
                    a += Math.Abs(g[(long)r * c + j] * wv);
                }
                dh[(long)r * k + kk] = s;
                dhB[(long)r * k + kk] = b + (c + 2) * Eps * a + 1e-30;
            }
        var dw = new double[(long)k * c];
        var dwB = new double[(long)k * c];
        var db = new double[c];
        var dbB = new double[c];
        for (int j = 0; j < c; j++)
        {
            double s1 = 0, b1 = 0, a1 = 0;
            for (int r = 0; r < n; r++)
            {
                s1 += g[(long)r * c + j];
                b1 += gBound[(long)r * c + j];
                a1 += Math.Abs(g[(long)r * c + j]);
            }
            db[j] = s1;
            dbB[j] = b1 + (n + 2) * Eps * a1 + 1e-30;
            for (int kk = 0; kk < k; kk++)
            {
                double s = 0, b = 0, a = 0;
                for (int r = 0; r < n; r++)
                {
                    double hv = p.H[(long)r * k + kk];
                    s += hv * g[(long)r * c + j];
                    b += Math.Abs(hv) * gBound[(long)r * c + j];
                    a += Math.Abs(hv * g[(long)r * c + j]);
                }
                long at = p.Layout == WeightLayout.InputsByClasses ? (long)kk * c + j : (long)j * k + kk;
                dw[at] = s;
                dwB[at] = b + (n + 2) * Eps * a + 1e-30;
            }
        }
        double total = lossBound.Sum() * (terms.Reduction == RefReduction.Mean ? (x.Divisor == 0 ? 0 : 1 / x.Divisor) : 1) + 1e-6;
        return new Expected(x.Loss, x.RowLoss, x.Lse, x.ZLoss, dh, dw, db, lossBound, dhB, dwB, dbB, total);
    }

    private static void AssertWithinBounds(Result got, Expected want, Problem p, string what)
    {
        Assert.Multiple(() =>
        {
            Assert.That(Math.Abs(got.Loss - want.Loss), Is.LessThanOrEqualTo(want.LossTotalBound), $"{what}: loss {got.Loss} vs {want.Loss}");
            AssertWithin.Tensor(got.RowLoss, want.RowLoss, want.LossBound, $"{what}: row losses");
            AssertWithin.Tensor(got.Lse, want.Lse, want.LossBound, $"{what}: lse");
            AssertWithin.Tensor(got.ZLoss, want.ZLoss, want.LossBound, $"{what}: z-loss terms");
            AssertWithin.Tensor(got.DH, want.DH, want.DHBound, $"{what}: dH", p.K);
            AssertWithin.Tensor(got.DW, want.DW, want.DWBound, $"{what}: dW");
            AssertWithin.Tensor(got.DB, want.DB, want.DBBound, $"{what}: db");
        });
    }

    private static void AssertBitwiseEqual(Result got, Result want, string what)
    {
        Assert.Multiple(() =>
        {
            Assert.That(BitConverter.SingleToInt32Bits(got.Loss), Is.EqualTo(BitConverter.SingleToInt32Bits(want.Loss)), $"{what}: loss");
            Assert.That(got.RowLoss, Is.EqualTo(want.RowLoss), $"{what}: row losses");
            Assert.That(got.Lse, Is.EqualTo(want.Lse), $"{what}: lse");
            Assert.That(got.DH, Is.EqualTo(want.DH), $"{what}: dH");
            Assert.That(got.DW, Is.EqualTo(want.DW), $"{what}: dW");
            Assert.That(got.DB, Is.EqualTo(want.DB), $"{what}: db");
        });
    }
}
