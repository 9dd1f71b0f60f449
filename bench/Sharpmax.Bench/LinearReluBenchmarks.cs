using BenchmarkDotNet.Attributes;
using Sharpmax.Ops;

namespace Sharpmax.Bench;

/// <summary>
/// The MLP's hidden layer (784 → 256, batch 256) with its ReLU fused into the linear kernels against the same work
/// as separate launches: forward <c>relu(X·W + b)</c> in one kernel vs <c>Linear.Forward</c> then <c>Relu.Forward</c>
/// (an extra N×C pass and launch), and the masked input gradient <c>(dY·Wᵀ) ⊙ [A &gt; 0]</c> of the layer above
/// (dY 256×10, W 256×10) vs <c>Linear.BackwardInput</c> then <c>Relu.Backward</c>. Validated: the fused result
/// equals the separate one bit for bit (the fused epilogue applies max(·, 0) to the same value, see kernels/relu.cuh).
/// </summary>
public class LinearReluBenchmarks : IDisposable
{
    public const int N = 256, K = 784, Hidden = 256, Classes = 10;

    private Sharpmax.Device _device = null!;
    private Linear _linear = null!;
    private DeviceBuffer<float> _x = null!, _w1 = null!, _b1 = null!, _z = null!, _a = null!;
    private DeviceBuffer<float> _dy = null!, _w2 = null!, _dh = null!, _dz = null!;

    [ParamsSource(nameof(Devices))]
    public DeviceKind Device { get; set; }

    [Params("forward", "masked dX")]
    public string Case { get; set; } = "forward";

    public static IEnumerable<DeviceKind> Devices => BenchDevices.Available;

    /// <summary>Flops of the product (the ReLU's N×C comparisons not counted).</summary>
    public double Flops => Case == "forward" ? 2.0 * N * K * Hidden : 2.0 * N * Classes * Hidden;

    [GlobalSetup]
    public void Setup()
    {
        _device = BenchDevices.Get(Device);
        _linear = new Linear(_device);
        _x = _device.Upload<float>(Reference.Uniform(seed: 21, N * K, scale: 1f));
        _w1 = _device.Upload<float>(Reference.Uniform(seed: 22, K * Hidden, scale: 0.05f));
        _b1 = _device.Upload<float>(Reference.Uniform(seed: 23, Hidden, scale: 0.05f));
        _z = _device.Allocate<float>(N * Hidden);
        _a = _device.Allocate<float>(N * Hidden);
        _dy = _device.Upload<float>(Reference.Uniform(seed: 24, N * Classes, scale: 1f));
        _w2 = _device.Upload<float>(Reference.Uniform(seed: 25, Hidden * Classes, scale: 0.05f));
        _dh = _device.Allocate<float>(N * Hidden);
        _dz = _device.Allocate<float>(N * Hidden);
        // The activation that masks dX: relu of the forward, about half of it zero.
        _linear.ForwardRelu(new DeviceMatrix(_x, N, K), new DeviceMatrix(_w1, K, Hidden), _b1, new DeviceMatrix(_a, N, Hidden));
        Separate();
        var separate = (Case == "forward" ? _a : _dz).ToArray();
        Fused();
        var fused = (Case == "forward" ? _a : _dz).ToArray();
        for (int i = 0; i < fused.Length; i++)
        {
            if (BitConverter.SingleToInt32Bits(fused[i]) != BitConverter.SingleToInt32Bits(separate[i]))
                throw Validation.Fail($"fused linear+ReLU {Case} on {Device}: element {i} is {fused[i]:R}, the separate kernels give {separate[i]:R}");
        }
    }

    /// <summary>The separate launches: the product, then the ReLU (or its backward) as its own pass.</summary>
    [Benchmark(Baseline = true)]
    public void Separate()
    {
        if (Case == "forward")
        {
            _linear.Forward(new DeviceMatrix(_x, N, K), new DeviceMatrix(_w1, K, Hidden), _b1, new DeviceMatrix(_z, N, Hidden));
            Relu.Forward(new DeviceMatrix(_z, N, Hidden), new DeviceMatrix(_a, N, Hidden));
        }
        else
        {
            _linear.BackwardInput(new DeviceMatrix(_dy, N, Classes), new DeviceMatrix(_w2, Hidden, Classes), new DeviceMatrix(_dh, N, Hidden));
            Relu.Backward(new DeviceMatrix(_dh, N, Hidden), new DeviceMatrix(_a, N, Hidden), new DeviceMatrix(_dz, N, Hidden));
        }
        _device.Synchronize();
    }

    /// <summary>One launch: the ReLU (or its mask) as the product's epilogue.</summary>
    [Benchmark]
    public void Fused()
    {
        if (Case == "forward")
            _linear.ForwardRelu(new DeviceMatrix(_x, N, K), new DeviceMatrix(_w1, K, Hidden), _b1, new DeviceMatrix(_a, N, Hidden));
        else
            _linear.BackwardInputRelu(new DeviceMatrix(_dy, N, Classes), new DeviceMatrix(_w2, Hidden, Classes), new DeviceMatrix(_a, N, Hidden), new DeviceMatrix(_dz, N, Hidden));
        _device.Synchronize();
    }

    [GlobalCleanup]
    public void Dispose()
    {
        foreach (var buffer in new[] { _x, _w1, _b1, _z, _a, _dy, _w2, _dh, _dz })
            buffer?.Dispose();
        GC.SuppressFinalize(this);
    }
}
