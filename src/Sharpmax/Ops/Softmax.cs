namespace Sharpmax.Ops;

/// <summary>
/// Row-max-subtracted softmax of an N×C matrix (kernels/softmax.cu):
/// y[r, c] = exp(x[r, c] − max_r) / Σ_k exp(x[r, k] − max_r). A row of all −∞ gives zeros.
/// <see cref="Forward"/> runs one fused kernel chosen by <see cref="RowDispatch"/>'s rules;
/// <see cref="ForwardNaive"/> runs the three-kernel chain the bench compares against.
/// Not thread-safe; the naive chain's two N-float workspaces are allocated on first use and reused.
/// </summary>
public sealed class Softmax : IDisposable
{
    private readonly Device _device;
    private DeviceBuffer<float>? _rowMax;
    private DeviceBuffer<float>? _rowSum;
    private RowPlanCache _plan;
    private bool _disposed;

    /// <summary>Creates the op for one device.</summary>
    /// <param name="device">The device its launches run on.</param>
    /// <param name="variant">The fused kernel <see cref="Forward"/> runs; Auto applies the dispatch rules.</param>
    public Softmax(Device device, RowKernelVariant variant = RowKernelVariant.Auto)
    {
        ArgumentNullException.ThrowIfNull(device);
        _device = device;
        Variant = variant;
    }

    /// <summary>The fused kernel <see cref="Forward"/> runs; Auto applies the dispatch rules.</summary>
    public RowKernelVariant Variant { get; set; }

    /// <summary>The kernel <see cref="Forward"/> launches for rows of <paramref name="c"/> columns.</summary>
    /// <param name="n">Rows.</param>
    /// <param name="c">Columns.</param>
    /// <returns>The entry name, for example <c>softmax_forward_f32_warp1024</c>.</returns>
    public string KernelFor(int n, int c) => RowDispatch.Plan(_device, "softmax_forward_f32", Variant, n, c).KernelName;

    /// <summary>Fused softmax: one launch.</summary>
    /// <param name="x">Input, N×C with row stride <paramref name="ldx"/>.</param>
    /// <param name="y">Output, N×C with row stride <paramref name="ldy"/>; may be <paramref name="x"/> itself.</param>
    /// <param name="n">Rows N (0 does nothing).</param>
    /// <param name="c">Columns C, at least 1.</param>
    /// <param name="ldx">Row stride of x in floats; 0 means C.</param>
    /// <param name="ldy">Row stride of y in floats; 0 means C.</param>
    /// <exception cref="ArgumentException">A buffer is too small for its shape or lives on another device, or the
    /// forced <see cref="Variant"/> cannot run rows of C columns.</exception>
    /// <exception cref="ArgumentOutOfRangeException">N is negative, C is not positive, or a stride is shorter than C.</exception>
    /// <exception cref="CudaException">The launch failed.</exception>
    public void Forward(DeviceBuffer<float> x, DeviceBuffer<float> y, int n, int c, int ldx = 0, int ldy = 0)
    {
        (ldx, ldy) = Check(x, y, n, c, ldx, ldy);
        if (n == 0)
            return;
        var plan = _plan.Get(_device, "softmax_forward_f32", Variant, n, c);
        _device.Launch(_device.Kernel(plan.KernelName), plan.Grid, plan.Block, plan.SharedBytes, x, n, c, ldx, y, ldy);
    }

    /// <summary>The naive chain: row max, then exp and row sum, then normalize, as three launches (one thread per row).</summary>
    /// <inheritdoc cref="Forward" path="/param"/>
    /// <exception cref="ArgumentException">A buffer is too small for its shape or lives on another device.</exception>
    /// <exception cref="ArgumentOutOfRangeException">N is negative, C is not positive, or a stride is shorter than C.</exception>
    /// <exception cref="CudaException">A launch failed.</exception>
    public void ForwardNaive(DeviceBuffer<float> x, DeviceBuffer<float> y, int n, int c, int ldx = 0, int ldy = 0)
    {
        (ldx, ldy) = Check(x, y, n, c, ldx, ldy);
        if (n == 0)
            return;
        EnsureWorkspace(n);
        var (grid, block) = RowDispatch.ThreadPerRow(_device, n, c);
        _device.Launch(_device.Kernel("softmax_rowmax_f32"), grid, block, 0, x, n, c, ldx, _rowMax!);
        _device.Launch(_device.Kernel("softmax_expsum_f32"), grid, block, 0, x, n, c, ldx, _rowMax!, y, ldy, _rowSum!);
        _device.Launch(_device.Kernel("softmax_normalize_f32"), grid, block, 0, y, n, c, ldy, _rowSum!);
    }

    /// <summary>Frees the workspaces.</summary>
    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        _rowMax?.Dispose();
        _rowSum?.Dispose();
    }

    private (int Ldx, int Ldy) Check(DeviceBuffer<float> x, DeviceBuffer<float> y, int n, int c, int ldx, int ldy)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ldx = RowShapes.Stride(n, c, ldx, nameof(ldx));
        ldy = RowShapes.Stride(n, c, ldy, nameof(ldy));
        RowShapes.Matrix(_device, x, n, c, ldx, nameof(x), "the input");
        RowShapes.Matrix(_device, y, n, c, ldy, nameof(y), "the output (the input's shape)");
        return (ldx, ldy);
    }

    private void EnsureWorkspace(int n)
    {
        if (_rowMax is not null && _rowMax.Length >= n)
            return;
        _rowMax?.Dispose();
        _rowSum?.Dispose();
        _rowMax = null;
        _rowSum = null;
        _rowMax = _device.Allocate<float>(n);
        _rowSum = _device.Allocate<float>(n);
    }
}
