using BenchmarkDotNet.Attributes;
using Sharpmax.Ops;

namespace Sharpmax.Bench;

/// <summary>Softmax of an N×C row set: the naive three-kernel chain (row max, exp and sum, normalize) against the
/// fused kernel the dispatch rules pick. Traffic counted: x read and y written once (8·N·C bytes).</summary>
public class SoftmaxBenchmarks : IDisposable
{
    // Rtol 1e-4: five times the tests' bound for float32 exp and chunked row sums, so a correct kernel never
    // trips it while a wrong index or a missing max still fails by orders of magnitude.
    private const double Rtol = 1e-4;

    private Sharpmax.Device _device = null!;
    private Softmax _op = null!;
    private DeviceBuffer<float> _x = null!;
    private DeviceBuffer<float> _y = null!;
    private float[] _input = [];

    [ParamsSource(nameof(Devices))]
    public DeviceKind Device { get; set; }

    [ParamsSource(nameof(Shapes))]
    public RowShape Shape { get; set; } = null!;

    public static IEnumerable<DeviceKind> Devices => BenchDevices.Available;

    public static IEnumerable<RowShape> Shapes => RowShape.Streaming();

    [GlobalSetup(Target = nameof(Naive))]
    public void SetupNaive()
    {
        Prepare();
        Naive();
        Check($"naive chain, {Device} {Shape}");
    }

    [GlobalSetup(Target = nameof(Fused))]
    public void SetupFused()
    {
        Prepare();
        Fused();
        Check($"{_op.KernelFor(Shape.N, Shape.C)}, {Device} {Shape}");
    }

    [Benchmark(Baseline = true)]
    public void Naive()
    {
        _op.ForwardNaive(_x, _y, Shape.N, Shape.C);
        _device.Synchronize();
    }

    [Benchmark]
    public void Fused()
    {
        _op.Forward(_x, _y, Shape.N, Shape.C);
        _device.Synchronize();
    }

    [GlobalCleanup]
    public void Dispose()
    {
        _op?.Dispose();
        _x?.Dispose();
        _y?.Dispose();
        GC.SuppressFinalize(this);
    }

    private void Prepare()
    {
        _device = BenchDevices.Get(Device);
        _op = new Softmax(_device);
        _input = Reference.Uniform(seed: Shape.C, (long)Shape.N * Shape.C, scale: 8);
        _x = _device.Upload<float>(_input);
        _y = _device.Allocate<float>(_input.Length);
        _y.Fill(float.NaN);
    }

    private void Check(string what) =>
        Validation.Close(what, _y.ToArray(), Reference.Softmax(_input, Shape.N, Shape.C), Rtol, atol: 1e-30);
}
