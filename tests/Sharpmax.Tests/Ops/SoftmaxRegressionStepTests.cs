// SoftmaxRegressionStep (kernels/train_step.cu) on every device and variant: one fused SGD step on u8 images
// gathered by index against a float64 step written out here, with a bound per element from a running error
// analysis of float32 (γ_n = n·u/(1 − n·u), u = 2⁻²⁴):
//   logits   γ_{K+2}·(Σ_k |byte·w|·scale + |b|)              (K products and sums, the scale, the bias)
//   gradient (p_c·(2·max_c e_logit + 16u) + 4u·|t_c|)/count     (softmax's sensitivity to its logits, its own rounding)
//   dW, db   Σ_i |x_ik|·e_g + γ_{N+2}·Σ_i |x_ik·g_ic|           (the gradient's errors carried, then the sum's own)
//   W, b     lr·e_dW + 2u·(|w| + lr·|dW + λ·w|)                 (sgd.cu's expression)
// Also: the update is bitwise Sgd.Step of the dW and db it writes, results are bitwise the same run to run and
// under a shuffled schedule, a bad label throws and leaves W and b as they were, the device-side form adds the
// loss to the totals, and inputs that do not fit are refused with their shapes.
using System.Globalization;
using NUnit.Framework;
using Sharpmax.Ops;
using Sharpmax.Tests.Reference;

namespace Sharpmax.Tests.Ops;

[TestFixture(DeviceKind.Cpu)]
[TestFixture(DeviceKind.Cuda)]
public sealed class SoftmaxRegressionStepTests(DeviceKind kind) : DeviceTestBase(kind)
{
    private const float LearningRate = 0.1f;
    private const double U = 1.0 / (1 << 24);
    private static readonly SoftmaxRegressionStepVariant[] s_variants = [SoftmaxRegressionStepVariant.Block, SoftmaxRegressionStepVariant.Simd];

    // (N, K, C): a single row and class, a part and a bit (the last part short), the trainer's batch, the limits.
    private static readonly (int N, int K, int C)[] s_shapes = [(1, 1, 1), (1, 9, 3), (37, 33, 7), (130, 100, 10), (256, 784, 10), (65, 1024, 16), (64, 17, 11)];

    public static IEnumerable<TestCaseData> Cases() =>
        from v in s_variants
        from s in s_shapes
        select new TestCaseData(v, s.N, s.K, s.C).SetArgDisplayNames(v.ToString(), $"{s.N}x{s.K}x{s.C}");

    [TestCaseSource(nameof(Cases))]
    public void One_step_matches_the_float64_reference(SoftmaxRegressionStepVariant variant, int n, int k, int c) =>
        Check(variant, Problem.Make(seed: (ulong)(n * 31 + k * 7 + c), n, k, c), new CrossEntropyOptions(), weightDecay: 0f);

    public static IEnumerable<TestCaseData> OptionCases()
    {
        var settings = new (string Name, CrossEntropyOptions Options, double Ignored, float Decay)[]
        {
            ("smoothing 0.1", new CrossEntropyOptions { LabelSmoothing = 0.1f }, 0.0, 0f),
            ("sum", new CrossEntropyOptions { Reduction = Reduction.Sum }, 0.0, 0f),
            ("a third ignored", new CrossEntropyOptions(), 0.33, 0f),
            ("all ignored", new CrossEntropyOptions(), 1.0, 0f),
            ("ignore_index 3, smoothing, decay", new CrossEntropyOptions { IgnoreIndex = 3, LabelSmoothing = 0.2f }, 0.0, 1e-3f),
        };
        return from v in s_variants
               from s in settings
               select new TestCaseData(v, s.Options, s.Ignored, s.Decay).SetArgDisplayNames(v.ToString(), s.Name);
    }

    [TestCaseSource(nameof(OptionCases))]
    public void Every_option_matches_the_float64_reference(SoftmaxRegressionStepVariant variant, CrossEntropyOptions options, double ignored, float decay) =>
        Check(variant, Problem.Make(seed: 77, n: 150, k: 60, c: 10, ignored, options.IgnoreIndex), options, decay);

    [Test]
    public void The_update_is_bitwise_sgd_of_the_gradients_it_writes([ValueSource(nameof(s_variants))] SoftmaxRegressionStepVariant variant)
    {
        SkipSimdOnCuda(variant);
        var p = Problem.Make(seed: 4, n: 200, k: 50, c: 10);
        using var run = new StepRun(Device, p);
        using var op = new SoftmaxRegressionStep(Device, variant: variant);
        run.Step(op, 1e-2f);
        using var w = Device.Upload<float>(p.W);
        using var b = Device.Upload<float>(p.B);
        Sgd.Step(w, run.WeightGradient.Buffer, LearningRate, 1e-2f);
        Sgd.Step(b, run.BiasGradient, LearningRate);
        AssertBitwise(run.Weights.Buffer.ToArray(), w.ToArray(), "W");
        AssertBitwise(run.Bias.ToArray(), b.ToArray(), "b");
    }

    [Test]
    public void Results_are_bitwise_the_same_run_to_run_and_under_a_shuffled_schedule([ValueSource(nameof(s_variants))] SoftmaxRegressionStepVariant variant)
    {
        SkipSimdOnCuda(variant);
        var p = Problem.Make(seed: 8, n: 256, k: 784, c: 10, ignoredFraction: 0.1);
        var options = new CrossEntropyOptions { LabelSmoothing = 0.1f };
        var first = Outputs(variant, p, options);
        AssertBitwise(Outputs(variant, p, options), first, "second run");
        if (Kind == DeviceKind.Cpu)
            foreach (ulong seed in new ulong[] { 12345, 777 })
            {
                Device.SetScheduleSeed(seed);
                AssertBitwise(Outputs(variant, p, options), first, $"randomized schedule, seed {seed}");
            }
    }

    [Test]
    public void A_bad_label_throws_naming_its_row_and_leaves_the_weights_as_they_were([ValueSource(nameof(s_variants))] SoftmaxRegressionStepVariant variant)
    {
        SkipSimdOnCuda(variant);
        var p = Problem.Make(seed: 9, n: 70, k: 20, c: 10);
        var bad = (int[])p.Labels.Clone();
        bad[66] = 10;
        using var op = new SoftmaxRegressionStep(Device, variant: variant);
        using (var run = new StepRun(Device, p with { Labels = bad }))
        {
            Assert.That(() => run.Step(op, 0f), Throws.InstanceOf<ArgumentOutOfRangeException>()
                .With.Message.Contains("row 66").And.Message.Contains("10"));
            AssertBitwise(run.Weights.Buffer.ToArray(), p.W, "W after the bad label");
            AssertBitwise(run.Bias.ToArray(), p.B, "b after the bad label");
        }
        // The next call on the same op gives what a fresh op gives.
        using var after = new StepRun(Device, p);
        float loss = after.Step(op, 0f);
        using var fresh = new StepRun(Device, p);
        using var freshOp = new SoftmaxRegressionStep(Device, variant: variant);
        Assert.That(loss, Is.EqualTo(fresh.Step(freshOp, 0f)));
        AssertBitwise(after.Weights.Buffer.ToArray(), fresh.Weights.Buffer.ToArray(), "W after the bad label's call");
    }

    [Test]
    public void The_device_side_form_adds_the_loss_to_the_totals_and_records_a_bad_label([ValueSource(nameof(s_variants))] SoftmaxRegressionStepVariant variant)
    {
        SkipSimdOnCuda(variant);
        var p = Problem.Make(seed: 10, n: 100, k: 30, c: 10);
        using var op = new SoftmaxRegressionStep(Device, variant: variant);
        using var totals = new CrossEntropyTotals(Device);
        using var sync = new StepRun(Device, p);
        float loss = sync.Step(op, 0f);
        using var into = new StepRun(Device, p);
        into.StepInto(op, totals, weight: p.N);
        var result = totals.Read();
        Assert.That(result.LossSum, Is.EqualTo((double)loss * p.N), "loss × N in the totals");
        Assert.That(result.BadLabel, Is.Null);
        AssertBitwise(into.Weights.Buffer.ToArray(), sync.Weights.Buffer.ToArray(), "W of the device-side form");

        var bad = (int[])p.Labels.Clone();
        bad[3] = -7;
        using var badRun = new StepRun(Device, p with { Labels = bad });
        badRun.StepInto(op, totals, weight: p.N);
        var second = totals.Read();
        Assert.That(second.BadLabel, Is.Not.Null);
        Assert.That((second.BadLabel!.Call, second.BadLabel.Row, second.BadLabel.Label), Is.EqualTo((1, 3, -7)));
    }

    [Test]
    public void The_correct_count_adds_the_rows_whose_argmax_is_their_label([ValueSource(nameof(s_variants))] SoftmaxRegressionStepVariant variant)
    {
        SkipSimdOnCuda(variant);
        using var op = new SoftmaxRegressionStep(Device, variant: variant);
        using var totals = new CrossEntropyTotals(Device);
        // 130 rows: three parts, the last of two rows. A first step gives the logits; then every third row's label is
        // set to its argmax (so the count is far from 0 and from N), row 7 gets a bad label, some rows are ignored,
        // and row 4 reads outside the image set (NaN logits: argmax 0, as numpy.argmax) with label 0.
        var p = Problem.Make(seed: 14, n: 130, k: 40, c: 10, ignoredFraction: 0.1);
        float[] firstLogits;
        using (var first = new StepRun(Device, p))
        {
            first.StepInto(op, totals, 1);
            firstLogits = first.Logits.Buffer.ToArray();
        }
        var labels = (int[])p.Labels.Clone();
        for (int i = 0; i < p.N; i += 3)
            labels[i] = HostArgmax(firstLogits.AsSpan(i * p.C, p.C));
        labels[7] = p.C + 3;
        labels[4] = 0;
        var index = (int[])p.Index.Clone();
        index[p.Offset + 4] = -1;
        using var run = new StepRun(Device, p with { Labels = labels, Index = index });
        using var correct = Device.Upload<int>([5]);
        run.StepInto(op, totals, 1, correct);

        var logits = run.Logits.Buffer.ToArray();
        int expected = Enumerable.Range(0, p.N).Count(i => HostArgmax(logits.AsSpan(i * p.C, p.C)) == labels[i]);
        Assert.That(expected, Is.GreaterThan(p.N / 3).And.LessThan(p.N), "the problem's own count");
        Assert.That(correct.ToArray()[0], Is.EqualTo(5 + expected), "added to the count already there");
        using var accuracy = Device.AllocateZeroed<int>(1);
        Accuracy.AddCorrect(run.Logits, run.Labels, accuracy);
        Assert.That(correct.ToArray()[0] - 5, Is.EqualTo(accuracy.ToArray()[0]), "Accuracy.AddCorrect's count of the same logits");
        Assert.That(() => run.StepInto(op, totals, 1, run.Labels), Throws.ArgumentException.With.Message.Contains("correct shares a buffer"));
    }

    // numpy.argmax of a row: the first maximum, and the first NaN above everything.
    private static int HostArgmax(ReadOnlySpan<float> row)
    {
        int best = 0;
        for (int c = 1; c < row.Length && !float.IsNaN(row[best]); c++)
            if (row[c] > row[best] || float.IsNaN(row[c]))
                best = c;
        return best;
    }

    [Test]
    public void An_empty_batch_writes_zero_gradients_and_an_index_out_of_range_gives_NaN([ValueSource(nameof(s_variants))] SoftmaxRegressionStepVariant variant)
    {
        SkipSimdOnCuda(variant);
        using var op = new SoftmaxRegressionStep(Device, variant: variant);
        var p = Problem.Make(seed: 12, n: 10, k: 16, c: 10);
        using (var empty = new StepRun(Device, p, rows: 0))
        {
            Assert.That(empty.Step(op, 0f), Is.EqualTo(0f));
            Assert.That(empty.WeightGradient.Buffer.ToArray(), Is.All.EqualTo(0f));
            Assert.That(empty.BiasGradient.ToArray(), Is.All.EqualTo(0f));
            AssertBitwise(empty.Weights.Buffer.ToArray(), p.W, "W after an empty batch");
        }
        var index = (int[])p.Index.Clone();
        index[p.Offset + 4] = p.Images + 5;
        using var outside = new StepRun(Device, p with { Index = index });
        Assert.That(float.IsNaN(outside.Step(op, 0f)), "the loss of a batch with a row outside the image set");
        Assert.That(outside.Logits.Buffer.ToArray().Skip(4 * p.C).Take(p.C), Is.All.NaN, "the logits of row 4");
        Assert.That(outside.WeightGradient.Buffer.ToArray(), Is.All.NaN, "dW");
    }

    [Test]
    public void Inputs_that_do_not_fit_are_refused_with_their_shapes()
    {
        var p = Problem.Make(seed: 13, n: 8, k: 16, c: 10);
        using var op = new SoftmaxRegressionStep(Device);
        using var run = new StepRun(Device, p);
        using var wide = Device.Allocate<float>(16 * 17);
        using var big = Device.Allocate<float>(1025 * 10);
        var x = run.X;
        Assert.That(() => op.Step(x, run.Labels, new DeviceMatrix(wide, 16, 17), run.Bias, run.Logits, run.WeightGradient, run.BiasGradient, LearningRate),
            Throws.ArgumentException.With.Message.Contains("at most 16 classes"));
        Assert.That(() => op.Step(x, run.Labels, new DeviceMatrix(big, 15, 10), run.Bias, run.Logits, run.WeightGradient, run.BiasGradient, LearningRate),
            Throws.ArgumentException.With.Message.Contains("X is 8×16 but W is 15×10"));
        Assert.That(() => op.Step(x, run.Labels, run.Weights, run.Bias, run.Weights, run.WeightGradient, run.BiasGradient, LearningRate),
            Throws.ArgumentException.With.Message.Contains("logits"));
        Assert.That(() => op.Step(x, run.Labels, run.Weights, run.Bias, run.Logits, run.Weights, run.BiasGradient, LearningRate),
            Throws.ArgumentException.With.Message.Contains("dW"));
        Assert.That(() => new SoftmaxRegressionStep(Device, new CrossEntropyOptions { Reduction = Reduction.None }),
            Throws.ArgumentException.With.Message.Contains("Mean or Sum"));
        Assert.That(() => new SoftmaxRegressionStep(Device, new CrossEntropyOptions { ZLossScale = 1e-4f }),
            Throws.ArgumentException.With.Message.Contains("z-loss"));
        using var pixels = Device.Allocate<byte>(4 * 1025);
        using var bigW = Device.Allocate<float>(1025 * 10);
        using var labels = Device.Allocate<int>(4);
        using var logits = Device.Allocate<float>(40);
        using var dw = Device.Allocate<float>(1025 * 10);
        Assert.That(() => op.Step(new PixelRows(pixels, 4, 1025), labels, new DeviceMatrix(bigW, 1025, 10), run.Bias, new DeviceMatrix(logits, 4, 10),
                new DeviceMatrix(dw, 1025, 10), run.BiasGradient, LearningRate),
            Throws.ArgumentException.With.Message.Contains("at most 1024 inputs"));
    }

    private void SkipSimdOnCuda(SoftmaxRegressionStepVariant variant)
    {
        if (variant == SoftmaxRegressionStepVariant.Simd && Kind == DeviceKind.Cuda)
            Assert.Ignore("The _simd kernel exists on the CPU device only.");
    }

    private float[][] Outputs(SoftmaxRegressionStepVariant variant, Problem p, CrossEntropyOptions options)
    {
        using var op = new SoftmaxRegressionStep(Device, options, variant);
        using var run = new StepRun(Device, p);
        float loss = run.Step(op, 1e-3f);
        return [[loss], run.Logits.Buffer.ToArray(), run.LogitsGradient.ToArray(), run.WeightGradient.Buffer.ToArray(),
            run.BiasGradient.ToArray(), run.Weights.Buffer.ToArray(), run.Bias.ToArray()];
    }

    private static void AssertBitwise(float[] got, float[] expected, string what)
    {
        Assert.That(got.Length, Is.EqualTo(expected.Length), $"{what}: length");
        for (int i = 0; i < got.Length; i++)
            if (BitConverter.SingleToInt32Bits(got[i]) != BitConverter.SingleToInt32Bits(expected[i]))
                Assert.Fail(string.Create(CultureInfo.InvariantCulture, $"{what}: element {i} is {got[i]:R}, expected {expected[i]:R}"));
    }

    private static void AssertBitwise(float[][] got, float[][] expected, string what)
    {
        for (int t = 0; t < got.Length; t++)
            AssertBitwise(got[t], expected[t], $"{what}, output {t}");
    }

    private void Check(SoftmaxRegressionStepVariant variant, Problem p, CrossEntropyOptions options, float weightDecay)
    {
        SkipSimdOnCuda(variant);
        using var op = new SoftmaxRegressionStep(Device, options, variant);
        using var run = new StepRun(Device, p);
        float loss = run.Step(op, weightDecay);
        var r = ReferenceStep(p, options, weightDecay);
        string what = $"{variant} {p.N}×{p.K}×{p.C}";
        AssertWithin.Tensor(run.Logits.Buffer.ToArray(), r.Logits, r.LogitsBound, $"{what} logits", p.C);
        // |Δloss_r| ≤ 2·max logit bound, plus 16u for the row loss and the reduction.
        double lossBound = 2 * r.LogitsBound.DefaultIfEmpty(0).Max() * Math.Max(1, options.Reduction == Reduction.Sum ? p.N : 1) + 16 * U * Math.Abs(r.Loss) + 1e-30;
        Assert.That(Math.Abs(loss - r.Loss), Is.LessThanOrEqualTo(lossBound), $"{what} loss {loss} vs {r.Loss}");
        AssertWithin.Tensor(run.LogitsGradient.ToArray(), r.Grad, r.GradBound, $"{what} gradient", p.C);
        AssertWithin.Tensor(run.WeightGradient.Buffer.ToArray(), r.DW, r.DWBound, $"{what} dW", p.C);
        AssertWithin.Tensor(run.BiasGradient.ToArray(), r.DB, r.DBBound, $"{what} db");
        AssertWithin.Tensor(run.Weights.Buffer.ToArray(), r.NewW, r.NewWBound, $"{what} W after the step", p.C);
        AssertWithin.Tensor(run.Bias.ToArray(), r.NewB, r.NewBBound, $"{what} b after the step");
    }

    private sealed record Reference(double[] Logits, double[] LogitsBound, double Loss, double[] Grad, double[] GradBound,
        double[] DW, double[] DWBound, double[] DB, double[] DBBound, double[] NewW, double[] NewWBound, double[] NewB, double[] NewBBound);

    private static double Gamma(int n) => n * U / (1 - n * U);

    // The step in float64 from the same inputs (x = byte/255 exactly), with the bounds of the header.
    private static Reference ReferenceStep(Problem p, CrossEntropyOptions o, float decay)
    {
        int n = p.N, k = p.K, c = p.C;
        var x = new double[(long)n * k];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < k; j++)
                x[(long)i * k + j] = p.Pixels[(long)p.Index[p.Offset + i] * k + j] / 255.0;
        var logits = new double[n * c];
        var logitsBound = new double[n * c];
        for (int i = 0; i < n; i++)
            for (int cc = 0; cc < c; cc++)
            {
                double sum = p.B[cc], abs = Math.Abs(p.B[cc]);
                for (int j = 0; j < k; j++)
                {
                    double t = x[(long)i * k + j] * p.W[(long)j * c + cc];
                    sum += t;
                    abs += Math.Abs(t);
                }
                logits[i * c + cc] = sum;
                logitsBound[i * c + cc] = Gamma(k + 2) * abs;
            }
        bool Used(int y) => y != o.IgnoreIndex && y >= 0 && y < c;
        int count = p.Labels.Count(Used);
        double divisor = o.Reduction == Reduction.Mean ? count : 1;
        double eps = o.LabelSmoothing, loss = 0;
        var grad = new double[n * c];
        var gradBound = new double[n * c];
        for (int i = 0; i < n; i++)
        {
            int y = p.Labels[i];
            if (!Used(y))
                continue;
            var row = logits.AsSpan(i * c, c);
            double m = double.NegativeInfinity, maxBound = 0;
            for (int cc = 0; cc < c; cc++)
            {
                m = Math.Max(m, row[cc]);
                maxBound = Math.Max(maxBound, logitsBound[i * c + cc]);
            }
            double s = 0, shifted = 0;
            for (int cc = 0; cc < c; cc++)
            {
                s += Math.Exp(row[cc] - m);
                shifted += row[cc] - m;
            }
            double lse = m + Math.Log(s);
            loss += ((1 - eps) * (lse - row[y]) + eps * (lse - (shifted / c + m))) / divisor;
            for (int cc = 0; cc < c; cc++)
            {
                double prob = Math.Exp(row[cc] - lse);
                double target = (cc == y ? 1 - eps : 0) + eps / c;
                grad[i * c + cc] = (prob - target) / divisor;
                gradBound[i * c + cc] = (prob * (2 * maxBound + 16 * U) + 4 * U * target) / divisor + 1e-37;
            }
        }
        var dw = new double[k * c];
        var dwBound = new double[k * c];
        var db = new double[c];
        var dbBound = new double[c];
        for (int cc = 0; cc < c; cc++)
        {
            double gsum = 0, gabs = 0, gerr = 0;
            for (int i = 0; i < n; i++)
            {
                gsum += grad[i * c + cc];
                gabs += Math.Abs(grad[i * c + cc]);
                gerr += gradBound[i * c + cc];
            }
            db[cc] = gsum;
            dbBound[cc] = gerr + Gamma(n + 2) * gabs;
            for (int j = 0; j < k; j++)
            {
                double sum = 0, abs = 0, err = 0;
                for (int i = 0; i < n; i++)
                {
                    double xv = x[(long)i * k + j], g = grad[i * c + cc];
                    sum += xv * g;
                    abs += Math.Abs(xv * g);
                    err += Math.Abs(xv) * gradBound[i * c + cc];
                }
                dw[j * c + cc] = sum;
                dwBound[j * c + cc] = err + Gamma(n + 3) * abs;
            }
        }
        var newW = new double[k * c];
        var newWBound = new double[k * c];
        for (int e = 0; e < k * c; e++)
        {
            double step = dw[e] + decay * p.W[e];
            newW[e] = p.W[e] - LearningRate * step;
            newWBound[e] = LearningRate * dwBound[e] * (1 + 4 * U) + 3 * U * (Math.Abs(p.W[e]) + LearningRate * Math.Abs(step)) + 1e-37;
        }
        var newB = new double[c];
        var newBBound = new double[c];
        for (int cc = 0; cc < c; cc++)
        {
            newB[cc] = p.B[cc] - LearningRate * db[cc];
            newBBound[cc] = LearningRate * dbBound[cc] * (1 + 4 * U) + 3 * U * (Math.Abs(p.B[cc]) + LearningRate * Math.Abs(db[cc])) + 1e-37;
        }
        return new Reference(logits, logitsBound, loss, grad, gradBound, dw, dwBound, db, dbBound, newW, newWBound, newB, newBBound);
    }

    /// <summary>A batch of N rows gathered by index from a u8 image set, with W (N(0, 0.3²)), b and labels.</summary>
    private sealed record Problem(int N, int K, int C, int Images, byte[] Pixels, int[] Index, int Offset, int[] Labels, float[] W, float[] B)
    {
        public static Problem Make(ulong seed, int n, int k, int c, double ignoredFraction = 0, int ignoreIndex = RandomData.IgnoreIndex)
        {
            var rng = new RandomData(seed);
            int images = n + 11, offset = 5;
            var index = Enumerable.Range(0, n + offset).Select(i => (int)((i * 7L + 3) % images)).ToArray();
            var labels = rng.Labels(n, c, ignoredFraction);
            if (ignoreIndex != RandomData.IgnoreIndex)
                labels = labels.Select(l => l == RandomData.IgnoreIndex ? ignoreIndex : l).ToArray();
            return new Problem(n, k, c, images, rng.Pixels((long)images * k), index, offset, labels,
                rng.Normal((long)k * c, 0.3 / Math.Sqrt(k)), rng.Matrix(1, c, 0.1));
        }
    }

    /// <summary>The problem's buffers on the device, and one step through the op.</summary>
    private sealed class StepRun : IDisposable
    {
        private readonly DeviceBuffer<byte> _pixels;
        private readonly DeviceBuffer<int> _index;
        private readonly List<IDisposable> _owned = [];

        public StepRun(Sharpmax.Device device, Problem p, int? rows = null)
        {
            int n = rows ?? p.N;
            _pixels = Own(device.Upload<byte>(p.Pixels));
            _index = Own(device.Upload<int>(p.Index));
            X = new PixelRows(_pixels, n, p.K, _index, p.Offset);
            Labels = Own(device.Upload<int>(n == 0 ? [0] : p.Labels.AsSpan(0, n).ToArray()));
            Weights = new DeviceMatrix(Own(device.Upload<float>(p.W)), p.K, p.C);
            Bias = Own(device.Upload<float>(p.B));
            Logits = new DeviceMatrix(Own(device.Allocate<float>(Math.Max(1, n * p.C))), n, p.C);
            LogitsGradient = Own(device.Allocate<float>(Math.Max(1, n * p.C)));
            WeightGradient = new DeviceMatrix(Own(device.Allocate<float>(p.K * p.C)), p.K, p.C);
            BiasGradient = Own(device.Allocate<float>(p.C));
        }

        public PixelRows X { get; }
        public DeviceBuffer<int> Labels { get; }
        public DeviceMatrix Weights { get; }
        public DeviceBuffer<float> Bias { get; }
        public DeviceMatrix Logits { get; }
        public DeviceBuffer<float> LogitsGradient { get; }
        public DeviceMatrix WeightGradient { get; }
        public DeviceBuffer<float> BiasGradient { get; }

        public float Step(SoftmaxRegressionStep op, float weightDecay) =>
            op.Step(X, Labels, Weights, Bias, Logits, WeightGradient, BiasGradient, LearningRate, weightDecay, LogitsGradient);

        public void StepInto(SoftmaxRegressionStep op, CrossEntropyTotals totals, double weight, DeviceBuffer<int>? correct = null) =>
            op.StepInto(X, Labels, Weights, Bias, Logits, WeightGradient, BiasGradient, LearningRate, 0f, totals, weight, correct);

        public void Dispose()
        {
            foreach (var b in _owned)
                b.Dispose();
        }

        private T Own<T>(T buffer) where T : IDisposable
        {
            _owned.Add(buffer);
            return buffer;
        }
    }
}
