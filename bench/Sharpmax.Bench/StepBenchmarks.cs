using BenchmarkDotNet.Attributes;
using Sharpmax.Ops;

namespace Sharpmax.Bench;

/// <summary>
/// One SGD step of the training job (d2l's recipe: N = 256, K = 784, C = 10) and each of its launches alone, on the
/// trainer's data path: a 60 000-image u8 set on the device, batches gathered through a shuffled index, fused
/// cross-entropy. <see cref="Step"/> is the trainer's step (the fused <see cref="SoftmaxRegressionStep"/>);
/// <see cref="UnfusedStep"/> is the same step as separate launches (the trainer's before it), whose launches follow
/// alone. Successive calls walk through the batches as an epoch does. The breakdown says where the end-to-end
/// job's time goes (an epoch is 235 steps). Validated as a whole, both steps: one step's updated W and b and the
/// correct count against a float64 step, so every op it times takes part in the check.
/// </summary>
public class StepBenchmarks : IDisposable
{
    public const int N = 256, K = 784, C = 10, Images = 60_000;
    public const float LearningRate = 0.1f;
    private const int Batches = (Images + N - 1) / N - 1;   // whole batches only

    private Sharpmax.Device _device = null!;
    private Linear _linear = null!;
    private FusedCrossEntropy _loss = null!;
    private SoftmaxRegressionStep _fused = null!;
    private CrossEntropyTotals _totals = null!;
    private float[] _w0 = [];
    private DeviceBuffer<byte> _images = null!;
    private DeviceBuffer<int> _labels = null!, _index = null!, _batchLabels = null!, _correct = null!;
    private DeviceBuffer<float> _w = null!, _b = null!, _logits = null!, _gradLogits = null!, _dw = null!, _db = null!;
    private PixelRows[] _batches = [];
    private int _next;

    [ParamsSource(nameof(Devices))]
    public DeviceKind Device { get; set; }

    public static IEnumerable<DeviceKind> Devices => BenchDevices.Available;

    [GlobalSetup]
    public void Setup()
    {
        _device = BenchDevices.Get(Device);
        _linear = new Linear(_device);
        _loss = new FusedCrossEntropy(_device);
        _fused = new SoftmaxRegressionStep(_device);
        _totals = new CrossEntropyTotals(_device);
        var random = new Random(5);
        var pixels = new byte[(long)Images * K];
        random.NextBytes(pixels);
        var labels = Reference.Labels(seed: 6, Images, C);
        var order = Enumerable.Range(0, Images).ToArray();
        random.Shuffle(order);
        var w = Reference.Uniform(seed: 7, K * C, scale: 0.0173f);   // the variance of N(0, 0.01²)
        _images = _device.Upload<byte>(pixels);
        _labels = _device.Upload<int>(labels);
        _index = _device.Upload<int>(order);
        _batchLabels = _device.Allocate<int>(N);
        _correct = _device.AllocateZeroed<int>(1);
        _w = _device.Upload<float>(w);
        _b = _device.AllocateZeroed<float>(C);
        _logits = _device.Allocate<float>(N * C);
        _gradLogits = _device.Allocate<float>(N * C);
        _dw = _device.Allocate<float>(K * C);
        _db = _device.Allocate<float>(C);
        _batches = Enumerable.Range(0, Batches).Select(i => new PixelRows(_images, N, K, _index, i * N)).ToArray();
        _w0 = w;

        foreach (var (name, step) in new (string, Action)[] { ("fused", Step), ("unfused", () => UnfusedStep()) })
        {
            Restart();
            step();
            Check(name, pixels, labels, order, w);
        }
        Restart();
    }

    // The weights, bias and count as at the start, and the next batch the first.
    private void Restart()
    {
        _w.CopyFrom(_w0);
        _b.Clear();
        _correct.Clear();
        _totals.Reset();
        _next = 0;
    }

    /// <summary>The whole step, as the trainer runs it: the label gather, the fused step's two launches (the correct
    /// count among them) and the loss reduction into the epoch's totals on the device, nothing read back.</summary>
    [Benchmark(Baseline = true)]
    public void Step()
    {
        var x = NextBatch();
        Gather.Forward(_labels, _index, x.Offset, _batchLabels, N);
        _fused.StepInto(x, _batchLabels, new DeviceMatrix(_w, K, C), _b, new DeviceMatrix(_logits, N, C),
            new DeviceMatrix(_dw, K, C), _db, LearningRate, 0f, _totals, weight: N, correct: _correct);
        _device.Synchronize();
    }

    /// <summary>The fused step's own launches, as in <see cref="Step"/> without the gather: logits, cross-entropy,
    /// correct count, dW and db of each part, the loss reduction into the totals, the parts' sum and the update (lr
    /// 0: the same work, and the weights stay put).</summary>
    [Benchmark]
    public void FusedStepKernels()
    {
        _fused.StepInto(NextBatch(), _batchLabels, new DeviceMatrix(_w, K, C), _b, new DeviceMatrix(_logits, N, C),
            new DeviceMatrix(_dw, K, C), _db, 0f, 0f, _totals, weight: N, correct: _correct);
        _device.Synchronize();
    }

    /// <summary>The same step as separate launches: ten launches and one read-back (the loss).</summary>
    [Benchmark]
    public float UnfusedStep()
    {
        var x = NextBatch();
        Gather.Forward(_labels, _index, x.Offset, _batchLabels, N);
        _linear.Forward(x, new DeviceMatrix(_w, K, C), _b, new DeviceMatrix(_logits, N, C));
        float loss = _loss.ForwardBackward(_logits, _batchLabels, N, C, _gradLogits);
        Accuracy.AddCorrect(new DeviceMatrix(_logits, N, C), _batchLabels, _correct);
        _linear.BackwardWeight(x, new DeviceMatrix(_gradLogits, N, C), new DeviceMatrix(_dw, K, C));
        _linear.BackwardBias(new DeviceMatrix(_gradLogits, N, C), _db);
        Sgd.Step(_w, _dw, LearningRate);
        Sgd.Step(_b, _db, LearningRate);
        _device.Synchronize();
        return loss;
    }

    [Benchmark]
    public void GatherLabels()
    {
        Gather.Forward(_labels, _index, NextBatch().Offset, _batchLabels, N);
        _device.Synchronize();
    }

    [Benchmark]
    public void ForwardU8()
    {
        _linear.Forward(NextBatch(), new DeviceMatrix(_w, K, C), _b, new DeviceMatrix(_logits, N, C));
        _device.Synchronize();
    }

    /// <summary>Three launches (count of non-ignored rows, the fused row kernel, the reduction) and the read-back.</summary>
    [Benchmark]
    public float CrossEntropy()
    {
        float loss = _loss.ForwardBackward(_logits, _batchLabels, N, C, _gradLogits);
        _device.Synchronize();
        return loss;
    }

    [Benchmark]
    public void CountCorrect()
    {
        Accuracy.AddCorrect(new DeviceMatrix(_logits, N, C), _batchLabels, _correct);
        _device.Synchronize();
    }

    [Benchmark]
    public void BackwardWeightU8()
    {
        _linear.BackwardWeight(NextBatch(), new DeviceMatrix(_gradLogits, N, C), new DeviceMatrix(_dw, K, C));
        _device.Synchronize();
    }

    [Benchmark]
    public void BackwardBias()
    {
        _linear.BackwardBias(new DeviceMatrix(_gradLogits, N, C), _db);
        _device.Synchronize();
    }

    [Benchmark]
    public void SgdWeights()
    {
        Sgd.Step(_w, _dw, 0f);   // lr 0: the same work, and the weights stay put
        _device.Synchronize();
    }

    /// <summary>The launches of the trainer's step, whose times the summary adds up beside the whole step.</summary>
    public static readonly string[] StepParts = [nameof(GatherLabels), nameof(FusedStepKernels)];

    /// <summary>Launches per invocation of <see cref="SgdBias"/>.</summary>
    public const int TinyLaunches = 1000;

    /// <summary>Ten floats: close to the cost of a launch alone, one launch and one synchronize at a time, the mean
    /// over <see cref="TinyLaunches"/> of them. One per invocation measured the harness instead: the quick job's
    /// single cold invocations read 535, 11 and 4 µs where a loop of them takes 0.3 to 0.6 µs each.</summary>
    [Benchmark(OperationsPerInvoke = TinyLaunches)]
    public void SgdBias()
    {
        for (int i = 0; i < TinyLaunches; i++)
        {
            Sgd.Step(_b, _db, 0f);
            _device.Synchronize();
        }
    }

    [GlobalCleanup]
    public void Dispose()
    {
        _loss?.Dispose();
        _fused?.Dispose();
        _totals?.Dispose();
        foreach (var buffer in new IDisposable?[] { _images, _labels, _index, _batchLabels, _correct, _w, _b, _logits, _gradLogits, _dw, _db })
            buffer?.Dispose();
        GC.SuppressFinalize(this);
    }

    private PixelRows NextBatch()
    {
        var batch = _batches[_next];
        _next = (_next + 1) % _batches.Length;
        return batch;
    }

    // One float64 step of batch 0. W' = W − lr·Xᵀ·G, b' = b − lr·ΣG with G = (softmax(XW + b) − onehot)/N:
    // atol 1e-6 is ten times the worst float32 rounding of lr·dW (256-term sums of |x·g| ≤ 1/256 each), while a
    // wrong gradient moves W' by about lr·0.1. The correct count may differ by one row whose top two logits tie
    // within float32 rounding.
    private void Check(string step, byte[] pixels, int[] labels, int[] order, float[] w0)
    {
        var x = new float[N * K];
        var y = new int[N];
        for (int i = 0; i < N; i++)
        {
            for (int k = 0; k < K; k++)
                x[i * K + k] = pixels[(long)order[i] * K + k] / 255f;
            y[i] = labels[order[i]];
        }
        var (logits, _) = Reference.Gemm(x, w0, new float[C], N, K, C);
        var logitsF = logits.Select(v => (float)v).ToArray();
        var (_, grad) = Reference.CrossEntropy(logitsF, y, N, C);
        var gradF = grad.Select(v => (float)v).ToArray();
        var (dw, _) = Reference.Gemm(Reference.Transpose(x, N, K), gradF, null, K, N, C);
        var expectedW = w0.Select((v, i) => v - (double)LearningRate * dw[i]).ToArray();
        var expectedB = Enumerable.Range(0, C).Select(c => -(double)LearningRate * Enumerable.Range(0, N).Sum(i => grad[i * C + c])).ToArray();
        int expectedCorrect = Enumerable.Range(0, N).Count(i => Enumerable.Range(0, C).MaxBy(c => logits[i * C + c]) == y[i]);

        Validation.Close($"one {step} SGD step on {Device}: W", _w.ToArray(), expectedW, rtol: 1e-5, atol: 1e-6);
        Validation.Close($"one {step} SGD step on {Device}: b", _b.ToArray(), expectedB, rtol: 1e-5, atol: 1e-6);
        int correct = _correct.ToArray()[0];
        if (Math.Abs(correct - expectedCorrect) > 1)
            throw Validation.Fail($"one {step} SGD step on {Device}: {correct} rows counted correct, the float64 step says {expectedCorrect}.");
    }
}
