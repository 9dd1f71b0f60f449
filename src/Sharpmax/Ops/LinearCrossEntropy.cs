using static Sharpmax.Ops.MatrixChecks;

namespace Sharpmax.Ops;

/// <summary>How a weight matrix is stored.</summary>
public enum WeightLayout
{
    /// <summary>K×C: row k holds input k's weight for every class (as <see cref="Linear"/> stores W).</summary>
    InputsByClasses,

    /// <summary>C×K: row c holds class c's weights (torch.nn.Linear's <c>weight</c>, a language model's head).</summary>
    ClassesByInputs,
}

/// <summary>Which kernels of kernels/linear_xent.cu a <see cref="LinearCrossEntropy"/> runs.</summary>
public enum LinearCrossEntropyVariant
{
    /// <summary><see cref="Block"/> on a GPU, <see cref="Simd"/> on the CPU device.</summary>
    Fast,

    /// <summary>A block of 256 threads per tile, tiles in shared memory (<c>_block</c>): the GPU kernels. They use
    /// barriers, so the CPU device runs their threads as fibers: correct there, but slow.</summary>
    Block,

    /// <summary>One thread per block, W's tile packed into a workspace, 6×16 register blocks (<c>_simd</c>): the CPU
    /// device's kernels, compiled for it only (not in the PTX).</summary>
    Simd,
}

/// <summary>
/// Fused linear + cross-entropy (kernels/linear_xent.cu): the loss of the logits H·W + b against int32 labels, and
/// when asked the gradients dH, dW and db, without ever allocating the N×C logits. Logit tiles are made on chip
/// and merged across class tiles by the online-softmax rule; the backward recomputes them from H, W and the three
/// floats per row the forward saves (the row max, Σexp, and Σexp without the label's term when the label holds the
/// max, which keeps a confident, correct row's tiny loss and gradient to float rounding). Every output has one owner that sums in a fixed order,
/// so results are bitwise the same run to run. The cross-entropy settings (<see cref="CrossEntropyOptions"/>: the
/// reduction, ignore index, label smoothing, z-loss, softcap, class weights) mean what they mean for
/// <see cref="FusedCrossEntropy"/>; <see cref="CrossEntropyOptions.Variant"/> does not apply.
/// Workspace: 3N floats, and on the CPU device about 1.3 MiB per worker core at K = 1024
/// (<see cref="SimdWorkspaceFloats"/> each), never N×C. Not thread-safe.
/// </summary>
public sealed class LinearCrossEntropy : IDisposable
{
    // kernels/linear_xent.cu's tile shapes.
    private const int ClassTile = 64, BlockRowTile = 32, BlockThreads = 256;
    private const int SimdRowTile = 96, SimdWeightRowTile = 192;

    private readonly CrossEntropyCore _core;
    private readonly string _suffix;
    private DeviceBuffer<float>? _stats;
    private DeviceBuffer<float>? _workspace;

    /// <summary>Creates the op for one device.</summary>
    /// <param name="device">The device its launches run on.</param>
    /// <param name="options">The cross-entropy settings; defaults when null.</param>
    /// <param name="variant">The kernels to run; <see cref="LinearCrossEntropyVariant.Fast"/> picks by device kind.</param>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range (as for <see cref="FusedCrossEntropy"/>),
    /// or <paramref name="variant"/> is not a defined value.</exception>
    /// <exception cref="ArgumentException">ClassWeights lives on another device, or Simd is asked of a CUDA device.</exception>
    public LinearCrossEntropy(Device device, CrossEntropyOptions? options = null, LinearCrossEntropyVariant variant = LinearCrossEntropyVariant.Fast)
    {
        ArgumentNullException.ThrowIfNull(device);
        if (!Enum.IsDefined(variant))
            throw new ArgumentOutOfRangeException(nameof(variant), variant, "Not a LinearCrossEntropyVariant.");
        if (variant == LinearCrossEntropyVariant.Simd && device.Kind == DeviceKind.Cuda)
            throw new ArgumentException("The _simd kernels are compiled for the CPU device only (they are not in the PTX); use Fast or Block on CUDA.", nameof(variant));
        _core = new CrossEntropyCore(device, options ?? new CrossEntropyOptions());
        Kernels = variant != LinearCrossEntropyVariant.Fast ? variant
            : device.Kind == DeviceKind.Cuda ? LinearCrossEntropyVariant.Block : LinearCrossEntropyVariant.Simd;
        _suffix = Kernels == LinearCrossEntropyVariant.Simd ? "_simd" : "_block";
    }

    /// <summary>The device the launches run on.</summary>
    public Device Device => _core.Device;

    /// <summary>The settings this instance was created with.</summary>
    public CrossEntropyOptions Options => _core.Options;

    /// <summary>The kernels that run (<see cref="LinearCrossEntropyVariant.Fast"/> resolved).</summary>
    public LinearCrossEntropyVariant Kernels { get; }

    /// <summary>Floats of workspace one _simd block uses for hidden size <paramref name="k"/> (kernels/linear_xent.cu's
    /// LX_SIMD_WORKSPACE_FLOATS): W's class tile both ways, a bias tile, a row tile of H and the logit tile.</summary>
    /// <param name="k">The hidden size K.</param>
    /// <returns>The count of floats.</returns>
    public static long SimdWorkspaceFloats(int k)
    {
        // LX_ROW_FLOATS: K padded to 16 floats, then to an odd count of 64-byte lines (no 4 KiB-apart rows).
        long kp = (k + 15L) / 16 * 16;
        if (kp / 16 % 2 == 0)
            kp += 16;
        return 2L * ClassTile * kp + ClassTile + SimdWeightRowTile * (kp + ClassTile);
    }

    /// <summary>The loss only (one pass over H and W).</summary>
    /// <param name="hidden">H, N×K, any row stride.</param>
    /// <param name="weight">W: K×C for <see cref="WeightLayout.InputsByClasses"/>, C×K for
    /// <see cref="WeightLayout.ClassesByInputs"/>; any row stride.</param>
    /// <param name="layout">How <paramref name="weight"/> is stored.</param>
    /// <param name="bias">b, C floats, or null.</param>
    /// <param name="labels">N labels in [0, C), or the ignore index.</param>
    /// <param name="rowLoss">Optional: receives the N per-row losses (0 on ignored rows).</param>
    /// <param name="logSumExp">Optional: receives each row's log-sum-exp (of the softcapped logits when softcap is on).</param>
    /// <param name="rowZLoss">Optional: receives each row's z-loss term z·lse² (0 on ignored rows).</param>
    /// <returns>The mean loss for <see cref="Reduction.Mean"/>, the sum of row losses otherwise.</returns>
    /// <exception cref="ArgumentException">The shapes do not chain, a buffer is too small or lives on another device,
    /// or an output is an input's buffer.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A label is out of range (message: row and value).</exception>
    /// <exception cref="CudaException">A launch failed.</exception>
    public float Forward(DeviceMatrix hidden, DeviceMatrix weight, WeightLayout layout, DeviceBuffer<float>? bias,
        DeviceBuffer<int> labels, DeviceBuffer<float>? rowLoss = null, DeviceBuffer<float>? logSumExp = null,
        DeviceBuffer<float>? rowZLoss = null)
    {
        var shape = Check(hidden, weight, layout, bias, labels, rowLoss, logSumExp, rowZLoss);
        return shape.N == 0 ? 0f : RunForward(hidden, weight, layout, bias, labels, shape, rowLoss, logSumExp, rowZLoss);
    }

    /// <summary>The loss and the gradients of the reduced loss × <paramref name="gradScale"/> that are asked for
    /// (each of dH, dW, db may be null): one forward pass, then one pass per gradient kind (on the CPU device the
    /// forward makes dH itself, recomputing no logit: 4 N·K·C products for all three gradients instead of 5). A bad
    /// label throws after the forward, before any gradient is written.</summary>
    /// <param name="hidden">H, N×K, any row stride.</param>
    /// <param name="weight">W in <paramref name="layout"/>, any row stride.</param>
    /// <param name="layout">How <paramref name="weight"/> is stored (dW is stored the same way).</param>
    /// <param name="bias">b, C floats, or null.</param>
    /// <param name="labels">N labels in [0, C), or the ignore index.</param>
    /// <param name="dHidden">Receives dH (N×K, any row stride), or null.</param>
    /// <param name="dWeight">Receives dW (W's shape and layout, any row stride), or null.</param>
    /// <param name="dBias">Receives db (C floats), or null.</param>
    /// <param name="gradScale">Upstream gradient of the reduced loss (1 for a plain loss).</param>
    /// <param name="rowLoss">Optional: receives the N per-row losses.</param>
    /// <param name="logSumExp">Optional: receives each row's log-sum-exp.</param>
    /// <param name="rowZLoss">Optional: receives each row's z-loss term.</param>
    /// <returns>The mean loss for <see cref="Reduction.Mean"/>, the sum of row losses otherwise.</returns>
    /// <exception cref="ArgumentException">As for <see cref="Forward"/>, for the gradients too.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A label is out of range (message: row and value).</exception>
    /// <exception cref="CudaException">A launch failed.</exception>
    public float ForwardBackward(DeviceMatrix hidden, DeviceMatrix weight, WeightLayout layout, DeviceBuffer<float>? bias,
        DeviceBuffer<int> labels, DeviceMatrix? dHidden, DeviceMatrix? dWeight, DeviceBuffer<float>? dBias,
        float gradScale = 1f, DeviceBuffer<float>? rowLoss = null, DeviceBuffer<float>? logSumExp = null,
        DeviceBuffer<float>? rowZLoss = null)
    {
        var shape = Check(hidden, weight, layout, bias, labels, rowLoss, logSumExp, rowZLoss);
        CheckGradients(shape, hidden, weight, bias, labels, dHidden, dWeight, dBias, rowLoss, logSumExp, rowZLoss);
        if (dHidden is null && dWeight is null && dBias is null)
            return shape.N == 0 ? 0f : RunForward(hidden, weight, layout, bias, labels, shape, rowLoss, logSumExp, rowZLoss);
        var count = _core.Options.ClassWeights is not null ? KernelArg.FromUInt64(0) : _core.CountForGradient(labels, shape.N, shape.C);
        // _simd: the forward makes dH in the same pass (one product fewer than a separate dH pass)
        bool inputGradInForward = Kernels == LinearCrossEntropyVariant.Simd && dHidden is not null;
        float loss = shape.N == 0 ? 0f : RunForward(hidden, weight, layout, bias, labels, shape, rowLoss, logSumExp, rowZLoss,
            inputGradInForward ? (dHidden!.Value, gradScale, count) : null);
        var none = KernelArg.FromUInt64(0);
        var o = _core.Options;
        if (dHidden is { } dh && shape.N > 0 && !inputGradInForward)
        {
            var (grid, block) = Launch(RowTiles(shape.N));
            Device.Launch(Device.Kernel("linear_xent_backward_input_f32" + _suffix), grid, block, 0,
                hidden.Buffer, shape.N, shape.K, hidden.Stride, weight.Buffer, (int)layout, weight.Stride, shape.C, Pointer(bias),
                labels, o.IgnoreIndex, o.LabelSmoothing, _stats!, gradScale, count, dh.Buffer, dh.Stride,
                o.ZLossScale, o.Softcap ?? 0f, Pointer(o.ClassWeights), _core.WeightTotals, Workspace(grid, shape.K));
        }
        if (dWeight is not null || dBias is not null)
        {
            var (grid, block) = Launch((shape.C + ClassTile - 1) / ClassTile);
            Device.Launch(Device.Kernel("linear_xent_backward_weight_f32" + _suffix), grid, block, 0,
                hidden.Buffer, shape.N, shape.K, hidden.Stride, weight.Buffer, (int)layout, weight.Stride, shape.C, Pointer(bias),
                labels, o.IgnoreIndex, o.LabelSmoothing, shape.N == 0 ? none : _stats!, gradScale, count,
                dWeight is { } dw ? dw.Buffer : none, dWeight?.Stride ?? 0, Pointer(dBias),
                o.ZLossScale, o.Softcap ?? 0f, Pointer(o.ClassWeights), _core.WeightTotals, Workspace(grid, shape.K));
        }
        return loss;
    }

    /// <summary>Frees the workspaces.</summary>
    public void Dispose()
    {
        _core.Dispose();
        _stats?.Dispose();
        _workspace?.Dispose();
    }

    private readonly record struct Shape(int N, int K, int C);

    private Shape Check(DeviceMatrix hidden, DeviceMatrix weight, WeightLayout layout, DeviceBuffer<float>? bias,
        DeviceBuffer<int> labels, DeviceBuffer<float>? rowLoss, DeviceBuffer<float>? logSumExp, DeviceBuffer<float>? rowZLoss)
    {
        if (!Enum.IsDefined(layout))
            throw new ArgumentOutOfRangeException(nameof(layout), layout, "Not a WeightLayout.");
        Matrix(Device, hidden, "H", dense: false);
        Matrix(Device, weight, "W", dense: false);
        int n = hidden.Rows, k = hidden.Cols;
        (int wk, int c) = layout == WeightLayout.InputsByClasses ? (weight.Rows, weight.Cols) : (weight.Cols, weight.Rows);
        if (wk != k || c < 1)
            throw new ArgumentException(Invariant(
                $"H is {hidden} and W is {weight} stored {Describe(layout)}: W needs {k} inputs ({(layout == WeightLayout.InputsByClasses ? "rows" : "columns")}) and at least one class."), nameof(weight));
        if (bias is not null)
            Vector(Device, bias, c, "b", c, static c => Invariant($"one bias per class (C = {c})"));
        _core.CheckClassWeights(c);
        RowShapes.PerRow(Device, labels, n, c, nameof(labels), "labels");
        foreach (var (buffer, name) in new[] { (rowLoss, nameof(rowLoss)), (logSumExp, nameof(logSumExp)), (rowZLoss, nameof(rowZLoss)) })
            if (buffer is not null)
            {
                RowShapes.PerRow(Device, buffer, n, c, name, "floats");
                Distinct(buffer, name, hidden.Buffer, weight.Buffer, bias, _core.Options.ClassWeights);
            }
        return new Shape(n, k, c);
    }

    private void CheckGradients(Shape shape, DeviceMatrix hidden, DeviceMatrix weight, DeviceBuffer<float>? bias, DeviceBuffer<int> labels,
        DeviceMatrix? dHidden, DeviceMatrix? dWeight, DeviceBuffer<float>? dBias,
        DeviceBuffer<float>? rowLoss, DeviceBuffer<float>? logSumExp, DeviceBuffer<float>? rowZLoss)
    {
        var weights = _core.Options.ClassWeights;
        if (dHidden is { } dh)
        {
            Matrix(Device, dh, "dH", dense: false);
            if (dh.Rows != shape.N || dh.Cols != shape.K)
                throw new ArgumentException(Invariant($"dH is {dh}, but H is {hidden}: they must have the same shape."), nameof(dHidden));
            Distinct(dh.Buffer, "dH", hidden.Buffer, weight.Buffer, bias, weights, rowLoss, logSumExp, rowZLoss);
        }
        if (dWeight is { } dw)
        {
            Matrix(Device, dw, "dW", dense: false);
            if (dw.Rows != weight.Rows || dw.Cols != weight.Cols)
                throw new ArgumentException(Invariant($"dW is {dw}, but W is {weight}: they must have the same shape."), nameof(dWeight));
            Distinct(dw.Buffer, "dW", hidden.Buffer, weight.Buffer, bias, weights, rowLoss, logSumExp, rowZLoss, dHidden?.Buffer);
        }
        if (dBias is not null)
        {
            Vector(Device, dBias, shape.C, "db", shape.C, static c => Invariant($"one bias gradient per class (C = {c})"));
            Distinct(dBias, "db", hidden.Buffer, weight.Buffer, bias, weights, rowLoss, logSumExp, rowZLoss, dHidden?.Buffer, dWeight?.Buffer);
        }
        _ = labels;
    }

    // inputGrad: also dH (× gradScale, mean by count) in the same pass, the _simd kernels only; a bad label leaves
    // dH unwritten (the kernel checks every label first) and throws here.
    private float RunForward(DeviceMatrix hidden, DeviceMatrix weight, WeightLayout layout, DeviceBuffer<float>? bias,
        DeviceBuffer<int> labels, Shape shape, DeviceBuffer<float>? rowLoss, DeviceBuffer<float>? logSumExp, DeviceBuffer<float>? rowZLoss,
        (DeviceMatrix DHidden, float GradScale, KernelArg Count)? inputGrad = null)
    {
        var o = _core.Options;
        var none = KernelArg.FromUInt64(0);
        var loss = _core.RowLoss(rowLoss, shape.N);
        var stats = Stats(shape.N);
        _core.ComputeWeightTotals(labels, shape.N, shape.C);
        var (grid, block) = Launch(RowTiles(shape.N));
        // Spans: the argument lists live on the stack, nothing is allocated per call.
        ReadOnlySpan<KernelArg> common =
        [
            hidden.Buffer, shape.N, shape.K, hidden.Stride, weight.Buffer, (int)layout, weight.Stride, shape.C, Pointer(bias),
            labels, o.IgnoreIndex, o.LabelSmoothing, loss, logSumExp is null ? none : logSumExp, stats, _core.Status,
        ];
        ReadOnlySpan<KernelArg> terms =
        [
            o.ZLossScale, o.Softcap ?? 0f, Pointer(o.ClassWeights), _core.WeightTotals, rowZLoss is null ? none : rowZLoss,
            Workspace(grid, shape.K),
        ];
        if (inputGrad is { } g)
            Device.Launch(Device.Kernel("linear_xent_forward_input_grad_f32" + _suffix), grid, block, 0,
                [.. common, g.GradScale, g.Count, g.DHidden.Buffer, g.DHidden.Stride, .. terms]);
        else
            Device.Launch(Device.Kernel("linear_xent_forward_f32" + _suffix), grid, block, 0, [.. common, .. terms]);
        return _core.ReduceAndCheck(loss, labels, shape.N, shape.C);
    }

    private int RowTiles(int n) => (n + (Kernels == LinearCrossEntropyVariant.Simd ? SimdRowTile : BlockRowTile) - 1)
        / (Kernels == LinearCrossEntropyVariant.Simd ? SimdRowTile : BlockRowTile);

    // _simd: one block per worker core (each takes every grid-th tile); _block: a block per tile.
    private (uint Grid, uint Block) Launch(int tiles)
    {
        if (Kernels == LinearCrossEntropyVariant.Simd)
            return ((uint)Math.Max(1, Math.Min(tiles, Device.MultiprocessorCount)), 1);
        return ((uint)Math.Max(1, tiles), BlockThreads);
    }

    private KernelArg Workspace(uint grid, int k)
    {
        if (Kernels != LinearCrossEntropyVariant.Simd)
            return KernelArg.FromUInt64(0);
        long floats = grid * SimdWorkspaceFloats(k);
        if (_workspace is null || _workspace.Length < floats)
        {
            _workspace?.Dispose();
            _workspace = null;
            _workspace = Device.Allocate<float>(floats);
        }
        return _workspace;
    }

    private DeviceBuffer<float> Stats(int n)
    {
        if (_stats is null || _stats.Length < 3L * n)
        {
            _stats?.Dispose();
            _stats = null;
            _stats = Device.Allocate<float>(3L * n);
        }
        return _stats;
    }

    private static string Describe(WeightLayout layout) => layout == WeightLayout.InputsByClasses ? "K×C" : "C×K";

    private static KernelArg Pointer<T>(DeviceBuffer<T>? buffer) where T : unmanaged => buffer is null ? 0UL : buffer;
}
