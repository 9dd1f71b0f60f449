// Models.Mlp on every device and variant: one training step (forward, the fused cross-entropy's gradient, the
// written-out backward, SGD) against the float64 step of ReferenceMlp, whose per-element bounds are a running
// error analysis of a float32 device (see ReferenceMlp.cs: 4·√P·u per product with the errors of its inputs
// carried through, softmax's sensitivity to its logits, ReLU masks that the error may flip). Also: the d2l
// shapes (784 → 256 → 10, N = 256, u8 images gathered by index), two hidden layers, no allocation per step,
// and clear errors for inputs that do not fit.
using NUnit.Framework;
using Sharpmax.Models;
using Sharpmax.Ops;
using Sharpmax.Tests.Reference;

namespace Sharpmax.Tests.Ops;

[TestFixture(DeviceKind.Cpu)]
[TestFixture(DeviceKind.Cuda)]
public sealed class MlpTests(DeviceKind kind) : DeviceTestBase(kind)
{
    private const float LearningRate = 0.1f;
    private static readonly LinearVariant[] s_variants = [LinearVariant.Naive, LinearVariant.SharedMemory, LinearVariant.Simd];

    private static readonly bool[] s_inputKinds = [false, true];
    private static readonly int[][] s_smallSizes = [[50, 33, 7], [29, 17, 12, 5]];

    public static IEnumerable<TestCaseData> SmallCases() =>
        from v in s_variants
        from pixels in s_inputKinds
        from sizes in s_smallSizes
        select new TestCaseData(v, pixels, sizes).SetArgDisplayNames(v.ToString(), pixels ? "u8" : "f32", string.Join("-", sizes));

    [TestCaseSource(nameof(SmallCases))]
    public void One_step_matches_the_float64_reference(LinearVariant variant, bool pixels, int[] sizes) =>
        CheckOneStep(variant, pixels, sizes, n: 37, images: 53, weightStd: 0.3);

    [TestCase(LinearVariant.Fast)]
    [TestCase(LinearVariant.Naive)]
    public void One_step_at_d2l_shapes_matches_the_float64_reference(LinearVariant variant) =>
        CheckOneStep(variant, pixels: true, [784, 256, 10], n: 256, images: 300, weightStd: 0.01);

    [Test]
    public void A_warmed_up_MLP_training_step_allocates_no_managed_memory()
    {
        const int n = 64, k = 784, c = 10, images = 200;
        var rng = new RandomData(23);
        using var imageBuffer = Device.Upload<byte>(rng.Pixels((long)images * k));
        using var index = Device.Upload<int>(Enumerable.Range(0, images).Reverse().ToArray());
        using var labels = Device.Upload<int>(rng.Labels(n, c));
        using var grad = Device.Allocate<float>(n * c);
        using var mlp = new Mlp(Device, [k, 256, c], n);
        var init = new RandomData(1);
        mlp.InitializeNormal(0.01, () => init.Normal(1, 1.0)[0]);
        using var loss = new FusedCrossEntropy(Device);
        var x = new PixelRows(imageBuffer, n, k, index, Offset: 100);
        var dLogits = new DeviceMatrix(grad, n, c);
        (string Name, Action Run)[] step =
        [
            ("Mlp.Forward", () => mlp.Forward(x)),
            ("ICrossEntropy.ForwardBackward", () => loss.ForwardBackward(mlp.Layers[^1].Output(n).Buffer, labels, n, c, grad)),
            ("Mlp.Backward", () => mlp.Backward(x, dLogits)),
            ("Mlp.Step", () => mlp.Step(LearningRate, 1e-4f)),
        ];
        for (int i = 0; i < 3; i++)
            foreach (var (_, run) in step)
                run();
        var allocated = new long[step.Length];
        for (int i = 0; i < 10; i++)
            for (int op = 0; op < step.Length; op++)
            {
                long before = GC.GetAllocatedBytesForCurrentThread();
                step[op].Run();
                allocated[op] += GC.GetAllocatedBytesForCurrentThread() - before;
            }
        var offenders = step.Select((s, op) => $"{s.Name}: {allocated[op] / 10} B/step").Where((_, op) => allocated[op] != 0);
        Assert.That(allocated.Sum(), Is.Zero, $"bytes allocated per warmed-up step: {string.Join(", ", offenders)}");
    }

    [Test]
    public void Inputs_that_do_not_fit_the_model_are_rejected_with_the_shapes()
    {
        using var mlp = new Mlp(Device, [20, 8, 3], maxBatch: 4);
        using var xb = Device.Allocate<float>(5 * 20);
        using var gb = Device.Allocate<float>(5 * 3);
        Assert.That(() => mlp.Forward(new DeviceMatrix(xb, 4, 19)), Throws.ArgumentException.With.Message.Contains("X is 4×19").And.Message.Contains("20 features"));
        Assert.That(() => mlp.Forward(new DeviceMatrix(xb, 5, 20)), Throws.ArgumentException.With.Message.Contains("at most 4 rows"));
        var x = new DeviceMatrix(xb, 4, 20);
        mlp.Forward(x);
        Assert.That(() => mlp.Backward(x, new DeviceMatrix(gb, 4, 2)), Throws.ArgumentException.With.Message.Contains("dLogits is 4×2 but the logits are 4×3"));
        Assert.That(() => mlp.Backward(x, mlp.Layers[^1].Output(4)), Throws.ArgumentException.With.Message.Contains("a buffer of the model"));
        Assert.That(() => new Mlp(Device, [784], 4), Throws.ArgumentException.With.Message.Contains("at least an input and an output"));
        Assert.That(() => new Mlp(Device, [784, 0, 10], 4), Throws.ArgumentException.With.Message.Contains("≥ 1"));
        Assert.That(() => new Mlp(Device, [784, 10], 0), Throws.InstanceOf<ArgumentOutOfRangeException>());
    }

    [Test]
    public void Training_steps_on_one_batch_lower_its_loss()
    {
        const int n = 32, k = 40, c = 4;
        var rng = new RandomData(31);
        using var xb = Device.Upload<float>(rng.Matrix(n, k));
        using var labels = Device.Upload<int>(rng.Labels(n, c));
        using var grad = Device.Allocate<float>(n * c);
        using var mlp = new Mlp(Device, [k, 16, c], n);
        var init = new RandomData(2);
        mlp.InitializeNormal(0.1, () => init.Normal(1, 1.0)[0]);
        using var loss = new FusedCrossEntropy(Device);
        var x = new DeviceMatrix(xb, n, k);
        float first = 0, last = 0;
        for (int step = 0; step < 50; step++)
        {
            var logits = mlp.Forward(x);
            last = loss.ForwardBackward(logits.Buffer, labels, n, c, grad);
            if (step == 0)
                first = last;
            mlp.Backward(x, new DeviceMatrix(grad, n, c));
            mlp.Step(0.5f);
        }
        Assert.That(last, Is.LessThan(first * 0.5f), $"loss {first} → {last} after 50 steps on one batch");
    }

    private void CheckOneStep(LinearVariant variant, bool pixels, int[] sizes, int n, int images, double weightStd)
    {
        if (variant == LinearVariant.Simd && Kind == DeviceKind.Cuda)
            Assert.Ignore("The _simd kernels exist on the CPU device only.");
        int k = sizes[0], c = sizes[^1];
        var rng = new RandomData((ulong)(n * 1009 + sizes.Sum()));
        var layers = new List<(float[] W, float[] B)>();
        for (int l = 0; l + 1 < sizes.Length; l++)
            layers.Add((rng.Normal((long)sizes[l] * sizes[l + 1], weightStd), rng.Matrix(1, sizes[l + 1], 0.1)));
        var labels = rng.Labels(n, c);
        const int offset = 3;
        var index = Enumerable.Range(0, images).Select(i => (i * 7 + 5) % images).ToArray();
        var pixelData = rng.Pixels((long)images * k);
        var floatX = rng.Matrix(n, k);
        double[] x = pixels
            ? Enumerable.Range(0, n * k).Select(e => pixelData[index[offset + e / k] * k + e % k] / 255.0).ToArray()
            : floatX.Select(v => (double)v).ToArray();

        using var mlp = new Mlp(Device, sizes, maxBatch: n + 5, variant);
        for (int l = 0; l < layers.Count; l++)
        {
            mlp.Layers[l].Weights.Buffer.CopyFrom(layers[l].W);
            mlp.Layers[l].Bias.CopyFrom(layers[l].B);
        }
        using var pb = Device.Upload<byte>(pixelData);
        using var ib = Device.Upload<int>(index);
        using var xb = Device.Upload<float>(floatX);
        using var lb = Device.Upload<int>(labels);
        using var gb = Device.Allocate<float>((long)n * c);
        using var loss = new FusedCrossEntropy(Device);
        var px = new PixelRows(pb, n, k, ib, offset);
        var fx = new DeviceMatrix(xb, n, k);

        var logits = pixels ? mlp.Forward(px) : mlp.Forward(fx);
        float lossValue = loss.ForwardBackward(logits.Buffer, lb, n, c, gb);
        var gotLogits = logits.Buffer.ToArray().AsSpan(0, n * c).ToArray();
        if (pixels)
            mlp.Backward(px, new DeviceMatrix(gb, n, c));
        else
            mlp.Backward(fx, new DeviceMatrix(gb, n, c));
        var gotWeightGrads = mlp.Layers.Select(l => l.WeightGradient.Buffer.ToArray()).ToArray();
        var gotBiasGrads = mlp.Layers.Select(l => l.BiasGradient.ToArray()).ToArray();
        mlp.Step(LearningRate);

        var r = ReferenceMlp.Step(x, k, labels, layers, LearningRate);
        string what = $"{mlp.Kernels} {(pixels ? "u8" : "f32")} {string.Join("-", sizes)} N={n}";
        AssertWithin.Tensor(gotLogits, r.Logits, r.LogitsBound, $"{what} logits", c);
        // |Δloss_r| ≤ |Δx_label| + Σ_c p_c·|Δx_c| ≤ 2·max bound; 16u for the float32 row losses and their mean.
        AssertClose.Scalar(lossValue, r.Loss, 2 * r.LogitsBound.Max(), 16 * Math.ScaleB(1.0, -24), $"{what} loss");
        for (int l = 0; l < layers.Count; l++)
        {
            AssertWithin.Tensor(gotWeightGrads[l], r.WeightGrads[l], r.WeightGradBounds[l], $"{what} dW{l + 1}", sizes[l + 1]);
            AssertWithin.Tensor(gotBiasGrads[l], r.BiasGrads[l], r.BiasGradBounds[l], $"{what} db{l + 1}");
            AssertWithin.Tensor(mlp.Layers[l].Weights.Buffer.ToArray(), r.NewWeights[l], r.NewWeightBounds[l], $"{what} W{l + 1} after the step", sizes[l + 1]);
            AssertWithin.Tensor(mlp.Layers[l].Bias.ToArray(), r.NewBiases[l], r.NewBiasBounds[l], $"{what} b{l + 1} after the step");
        }
    }
}
