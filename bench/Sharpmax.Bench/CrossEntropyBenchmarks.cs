using BenchmarkDotNet.Attributes;
using Sharpmax.Ops;

namespace Sharpmax.Bench;

/// <summary>Cross-entropy forward and backward (mean loss and its gradient) of N×C logits: the naive chain
/// (softmax → log → gather-NLL → gradient kernel) against the fused one-pass kernel. Traffic counted: logits read
/// and gradient written once, labels read and per-row losses written once (8·N·C + 8·N bytes).</summary>
public class CrossEntropyBenchmarks : IDisposable
{
    // Rtol 1e-4 on the loss and the gradient: the softmax bound (see SoftmaxBenchmarks) with room for the log and
    // the fixed-order mean; atol 1e-6/N covers gradient entries that cancel to ~0 (p − 1 at the label, p ≈ 1).
    private const double Rtol = 1e-4;

    private Sharpmax.Device _device = null!;
    private ICrossEntropy _op = null!;
    private DeviceBuffer<float> _logits = null!;
    private DeviceBuffer<int> _labels = null!;
    private DeviceBuffer<float> _grad = null!;
    private float[] _input = [];
    private int[] _targets = [];
    private float _loss;

    [ParamsSource(nameof(Devices))]
    public DeviceKind Device { get; set; }

    [ParamsSource(nameof(Shapes))]
    public RowShape Shape { get; set; } = null!;

    public static IEnumerable<DeviceKind> Devices => BenchDevices.Available;

    /// <summary>The streaming shapes, the trainer's batch (256×10) and the goal's shape (4096×1000).</summary>
    public static IEnumerable<RowShape> Shapes => RowShape.Streaming().Concat([new RowShape(256, 10), new RowShape(4096, 1000)]);

    [GlobalSetup(Target = nameof(Naive))]
    public void SetupNaive()
    {
        Prepare(new NaiveCrossEntropy(BenchDevices.Get(Device)));
        Naive();
        Check($"naive chain, {Device} {Shape}");
    }

    [GlobalSetup(Target = nameof(Fused))]
    public void SetupFused()
    {
        var fused = new FusedCrossEntropy(BenchDevices.Get(Device));
        Prepare(fused);
        Fused();
        Check($"{fused.KernelFor(Shape.N, Shape.C)}, {Device} {Shape}");
    }

    [Benchmark(Baseline = true)]
    public float Naive()
    {
        _loss = _op.ForwardBackward(_logits, _labels, Shape.N, Shape.C, _grad);
        _device.Synchronize();
        return _loss;
    }

    [Benchmark]
    public float Fused()
    {
        _loss = _op.ForwardBackward(_logits, _labels, Shape.N, Shape.C, _grad);
        _device.Synchronize();
        return _loss;
    }

    [GlobalCleanup]
    public void Dispose()
    {
        _op?.Dispose();
        _logits?.Dispose();
        _labels?.Dispose();
        _grad?.Dispose();
        GC.SuppressFinalize(this);
    }

    private void Prepare(ICrossEntropy op)
    {
        _op = op;
        _device = BenchDevices.Get(Device);
        // Logits in [−4, 4): the label's probability stays far above the naive chain's 1e-12 clip even at
        // C = 262144, so both implementations must match the unclipped reference.
        _input = Reference.Uniform(seed: Shape.C, (long)Shape.N * Shape.C, scale: 4);
        _targets = Reference.Labels(seed: Shape.N, Shape.N, Shape.C);
        _logits = _device.Upload<float>(_input);
        _labels = _device.Upload<int>(_targets);
        _grad = _device.Allocate<float>(_input.Length);
        _grad.Fill(float.NaN);
    }

    private void Check(string what)
    {
        var (loss, grad) = Reference.CrossEntropy(_input, _targets, Shape.N, Shape.C);
        Validation.Scalar($"{what}: mean loss", _loss, loss, Rtol);
        Validation.Close($"{what}: gradient", _grad.ToArray(), grad, Rtol, atol: 1e-6 / Shape.N);
    }
}
