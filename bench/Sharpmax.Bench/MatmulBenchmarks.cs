using BenchmarkDotNet.Attributes;
using Sharpmax.Interop;
using Sharpmax.Ops;

namespace Sharpmax.Bench;

/// <summary>
/// The linear layer's three products at the trainer's shape and at the MLP's (LinearCase.Mlp): the naive kernel (one thread per output) against the
/// device's fast kernel (simd on the CPU device, smem on a GPU) against the vendor BLAS on the same device and the
/// same buffers (OpenBLAS cblas_sgemm on the CPU, cuBLAS on a GPU). The BLAS forward adds the bias by copying a
/// broadcast bias matrix into Y and accumulating onto it (beta = 1).
/// </summary>
public unsafe class MatmulBenchmarks : IDisposable
{
    private Sharpmax.Device _device = null!;
    private Linear _linear = null!;
    private DeviceBuffer<float> _x = null!, _w = null!, _b = null!, _dy = null!;
    private DeviceBuffer<float> _y = null!, _dx = null!, _dw = null!, _biasRows = null!;
    private float[] _hostX = [], _hostW = [], _hostB = [], _hostDy = [];
    private OpenBlas? _openBlas;
    private CublasApi? _cublas;
    private nint _cublasHandle;

    [ParamsSource(nameof(Devices))]
    public DeviceKind Device { get; set; }

    [ParamsSource(nameof(Cases))]
    public LinearCase Case { get; set; } = null!;

    public static IEnumerable<DeviceKind> Devices => BenchDevices.Available;

    public static IEnumerable<LinearCase> Cases => LinearCase.Trainer().Concat(LinearCase.Mlp());

    [GlobalSetup(Target = nameof(Naive))]
    public void SetupNaive()
    {
        Prepare(LinearVariant.Naive);
        Naive();
        Check($"{_linear.KernelName(ProductName)}, {Device} {Case}");
    }

    [GlobalSetup(Target = nameof(Fast))]
    public void SetupFast()
    {
        Prepare(LinearVariant.Fast);
        Fast();
        Check($"{_linear.KernelName(ProductName)}, {Device} {Case}");
    }

    [GlobalSetup(Target = nameof(Blas))]
    public void SetupBlas()
    {
        Prepare(LinearVariant.Fast);
        string failure;
        if (Device == DeviceKind.Cpu)
        {
            _openBlas = OpenBlas.TryLoad(out failure) ?? throw new InvalidOperationException($"OpenBLAS is not available: {failure}");
        }
        else
        {
            _cublas = CublasApi.TryLoad(out failure) ?? throw new InvalidOperationException($"cuBLAS is not available: {failure}");
            _device.Synchronize();   // makes the device's primary context current; cuBLAS runs in it
            nint handle;
            CublasApi.Check(_cublas.cublasCreate_v2(&handle));
            _cublasHandle = handle;
        }
        Blas();
        Check($"{BenchDevices.BlasName(Device)} sgemm, {Device} {Case}");
    }

    [Benchmark(Baseline = true)]
    public void Naive() => RunOurs();

    [Benchmark]
    public void Fast() => RunOurs();

    [Benchmark]
    public void Blas()
    {
        if (_openBlas is not null)
            OpenBlasProduct();
        else
            CublasProduct();
        _device.Synchronize();
    }

    [GlobalCleanup]
    public void Dispose()
    {
        if (_cublasHandle != 0 && _cublas is not null)
            CublasApi.Check(_cublas.cublasDestroy_v2(_cublasHandle));
        _cublasHandle = 0;
        foreach (var buffer in new[] { _x, _w, _b, _dy, _y, _dx, _dw, _biasRows })
            buffer?.Dispose();
        GC.SuppressFinalize(this);
    }

    private string ProductName => Case.Product switch
    {
        LinearProduct.Forward => "linear_forward_f32",
        LinearProduct.BackwardInput => "linear_backward_input_f32",
        _ => "linear_backward_weight_f32",
    };

    private void RunOurs()
    {
        int n = Case.N, k = Case.K, c = Case.C;
        switch (Case.Product)
        {
            case LinearProduct.Forward:
                _linear.Forward(new DeviceMatrix(_x, n, k), new DeviceMatrix(_w, k, c), _b, new DeviceMatrix(_y, n, c));
                break;
            case LinearProduct.BackwardInput:
                _linear.BackwardInput(new DeviceMatrix(_dy, n, c), new DeviceMatrix(_w, k, c), new DeviceMatrix(_dx, n, k));
                break;
            default:
                _linear.BackwardWeight(new DeviceMatrix(_x, n, k), new DeviceMatrix(_dy, n, c), new DeviceMatrix(_dw, k, c));
                break;
        }
        _device.Synchronize();
    }

    // Row-major operands, as the CPU device's buffers are host memory.
    private void OpenBlasProduct()
    {
        int n = Case.N, k = Case.K, c = Case.C;
        var gemm = _openBlas!.cblas_sgemm;
        switch (Case.Product)
        {
            case LinearProduct.Forward:
                _biasRows.CopyTo(_y);
                gemm(OpenBlas.RowMajor, OpenBlas.NoTrans, OpenBlas.NoTrans, n, c, k, 1f, Host(_x), k, Host(_w), c, 1f, Host(_y), c);
                break;
            case LinearProduct.BackwardInput:
                gemm(OpenBlas.RowMajor, OpenBlas.NoTrans, OpenBlas.Trans, n, k, c, 1f, Host(_dy), c, Host(_w), c, 0f, Host(_dx), k);
                break;
            default:
                gemm(OpenBlas.RowMajor, OpenBlas.Trans, OpenBlas.NoTrans, k, c, n, 1f, Host(_x), k, Host(_dy), c, 0f, Host(_dw), c);
                break;
        }
    }

    // cuBLAS is column-major: a row-major buffer is its transpose, so row-major C = op(A)·op(B) is computed as
    // column-major Cᵀ = op(B)ᵀ·op(A)ᵀ, with the same transpose flags and leading dimensions.
    private void CublasProduct()
    {
        int n = Case.N, k = Case.K, c = Case.C;
        var gemm = _cublas!.cublasSgemm_v2;
        _device.ContextForUse();   // cuBLAS runs in the calling thread's current context
        float one = 1f, zero = 0f;
        const int none = CublasApi.OperationNone, trans = CublasApi.OperationTranspose;
        switch (Case.Product)
        {
            case LinearProduct.Forward:
                _biasRows.CopyTo(_y);
                CublasApi.Check(gemm(_cublasHandle, none, none, c, n, k, &one, _w.Pointer, c, _x.Pointer, k, &one, _y.Pointer, c));
                break;
            case LinearProduct.BackwardInput:
                CublasApi.Check(gemm(_cublasHandle, trans, none, k, n, c, &one, _w.Pointer, c, _dy.Pointer, c, &zero, _dx.Pointer, k));
                break;
            default:
                CublasApi.Check(gemm(_cublasHandle, none, trans, c, k, n, &one, _dy.Pointer, c, _x.Pointer, k, &zero, _dw.Pointer, c));
                break;
        }
    }

    private static float* Host(DeviceBuffer<float> buffer) => (float*)buffer.Pointer;

    private void Prepare(LinearVariant variant)
    {
        int n = Case.N, k = Case.K, c = Case.C;
        _device = BenchDevices.Get(Device);
        _linear = new Linear(_device, variant);
        _hostX = Reference.Uniform(seed: 1, (long)n * k, scale: 1);      // scaled pixels
        _hostW = Reference.Uniform(seed: 2, (long)k * c, scale: 0.05f);
        _hostB = Reference.Uniform(seed: 3, c, scale: 0.1f);
        _hostDy = Reference.Uniform(seed: 4, (long)n * c, scale: 1f / n); // a mean loss's gradient
        _x = _device.Upload<float>(_hostX);
        _w = _device.Upload<float>(_hostW);
        _b = _device.Upload<float>(_hostB);
        _dy = _device.Upload<float>(_hostDy);
        _biasRows = _device.Upload<float>(Enumerable.Range(0, n).SelectMany(_ => _hostB).ToArray());
        _y = _device.Allocate<float>((long)n * c);
        _dx = _device.Allocate<float>((long)n * k);
        _dw = _device.Allocate<float>((long)k * c);
        foreach (var output in new[] { _y, _dx, _dw })
            output.Fill(float.NaN);
    }

    // Tolerance per element: depth·2⁻²⁴·Σ|a·b|, the worst-case rounding of a float32 sum of `depth` products in
    // any order, so any correct kernel or BLAS passes and a wrong element (off by a whole term) fails.
    private void Check(string what)
    {
        int n = Case.N, k = Case.K, c = Case.C;
        var (rows, depth, cols) = Case.Gemm;
        var (a, b, bias, output) = Case.Product switch
        {
            LinearProduct.Forward => (_hostX, _hostW, _hostB, _y),
            LinearProduct.BackwardInput => (_hostDy, Reference.Transpose(_hostW, k, c), null, _dx),
            _ => (Reference.Transpose(_hostX, n, k), _hostDy, (float[]?)null, _dw),
        };
        var (expected, absSum) = Reference.Gemm(a, b, bias, rows, depth, cols);
        double unit = (depth + 1) * Math.Pow(2, -24);
        Validation.Close(what, output.ToArray(), expected, rtol: 0, i => unit * absSum[i] + 1e-30);
    }
}
