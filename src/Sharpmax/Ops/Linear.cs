using static Sharpmax.Ops.MatrixChecks;

namespace Sharpmax.Ops;

/// <summary>Which kernels of kernels/linear.cu a <see cref="Linear"/> runs.</summary>
public enum LinearVariant
{
    /// <summary>The device's fast kernels: <see cref="SharedMemory"/> on a GPU, <see cref="Simd"/> on the CPU device.</summary>
    Fast,

    /// <summary>One thread per output, summing in order (<c>_naive</c>): the baseline the bench compares against.</summary>
    Naive,

    /// <summary>64×32 output tiles per 256-thread block, operands staged through shared memory, 4×2 outputs per
    /// thread (<c>_smem</c>): the GPU kernels. They use barriers, so the CPU device runs their threads as fibers:
    /// correct there, but slow.</summary>
    SharedMemory,

    /// <summary>Barrier-free register tiles of 4 to 16 rows × 16 columns, whose inner loops are vector code on the
    /// host (<c>_simd</c>): the CPU device's kernels, compiled for it only (not in the PTX). The CPU runtime runs
    /// their threads as plain calls.</summary>
    Simd,
}

/// <summary>
/// The linear layer Y = X·W + b and its backward products, on one device (kernels/linear.cu). X is a float
/// matrix with any row stride, or a <see cref="PixelRows"/> batch of u8 images gathered by index. W, b, Y, dY,
/// dX and dW are dense. Every method checks shapes, buffer sizes and devices before it launches anything and
/// overwrites its output. Results are bitwise the same run to run on one device (every sum runs in a fixed order).
/// </summary>
public sealed class Linear
{
    internal const int NaiveBlock = 256;
    internal const int SmemBlock = 256;
    private const int SmemTileRows = 64, SmemTileCols = 32;
    internal const int SimdBlock = 4;
    private const int SimdRowsPerThread = 4, SimdColsPerThread = 64;
    private const int MaxGridY = 65535;

    // Entry names by product, resolved once: building them per launch would allocate a string per batch.
    private readonly Dictionary<string, string> _kernelNames;

    /// <summary>Creates the op for one device.</summary>
    /// <param name="device">The device its launches run on.</param>
    /// <param name="variant">The kernels to run; <see cref="LinearVariant.Fast"/> picks by device kind.</param>
    /// <exception cref="ArgumentNullException"><paramref name="device"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="variant"/> is not a defined value.</exception>
    /// <exception cref="ArgumentException"><paramref name="variant"/> is Simd on a CUDA device (host-only kernels).</exception>
    public Linear(Device device, LinearVariant variant = LinearVariant.Fast)
    {
        ArgumentNullException.ThrowIfNull(device);
        if (!Enum.IsDefined(variant))
            throw new ArgumentOutOfRangeException(nameof(variant), variant, "Not a LinearVariant.");
        if (variant == LinearVariant.Simd && device.Kind == DeviceKind.Cuda)
            throw new ArgumentException("The _simd kernels are compiled for the CPU device only (they are not in the PTX); use Fast or SharedMemory on CUDA.", nameof(variant));
        Device = device;
        Variant = variant;
        Kernels = variant != LinearVariant.Fast ? variant
            : device.Kind == DeviceKind.Cuda ? LinearVariant.SharedMemory : LinearVariant.Simd;
        string[] products = ["linear_forward_f32", "linear_forward_u8", "linear_backward_input_f32", "linear_backward_weight_f32", "linear_backward_weight_u8",
            "linear_relu_forward_f32", "linear_relu_forward_u8", "linear_backward_input_relu_f32"];
        _kernelNames = products.ToDictionary(product => product, KernelName, StringComparer.Ordinal);
    }

    /// <summary>The device the launches run on.</summary>
    public Device Device { get; }

    /// <summary>The variant asked for.</summary>
    public LinearVariant Variant { get; }

    /// <summary>The kernels that run: <see cref="Variant"/> with <see cref="LinearVariant.Fast"/> resolved.</summary>
    public LinearVariant Kernels { get; }

    /// <summary>Y = X·W + b.</summary>
    /// <param name="x">X, N×K, any row stride.</param>
    /// <param name="w">W, K×C, dense.</param>
    /// <param name="bias">b, C floats; null for no bias.</param>
    /// <param name="y">Y, N×C, dense; receives the result.</param>
    /// <exception cref="ArgumentException">The shapes do not chain (the message names both shapes), a buffer is too
    /// small for its shape, lives on another device, or the output shares a buffer with an input.</exception>
    /// <exception cref="CudaException">The launch failed.</exception>
    public void Forward(DeviceMatrix x, DeviceMatrix w, DeviceBuffer<float>? bias, DeviceMatrix y) =>
        Forward("linear_forward_f32", x, w, bias, y);

    /// <summary>Y = relu(X·W + b): the forward of a hidden layer, the ReLU fused into the product's epilogue
    /// (the values of <see cref="Relu.Forward"/> after <see cref="Forward(DeviceMatrix, DeviceMatrix, DeviceBuffer{float}?, DeviceMatrix)"/>).</summary>
    /// <param name="x">X, N×K, any row stride.</param>
    /// <param name="w">W, K×C, dense.</param>
    /// <param name="bias">b, C floats; null for no bias.</param>
    /// <param name="y">Y, N×C, dense; receives the result (the activation that the backward masks by).</param>
    /// <exception cref="ArgumentException">As for Forward.</exception>
    /// <exception cref="CudaException">The launch failed.</exception>
    public void ForwardRelu(DeviceMatrix x, DeviceMatrix w, DeviceBuffer<float>? bias, DeviceMatrix y) =>
        Forward("linear_relu_forward_f32", x, w, bias, y);

    /// <summary>Y = relu(X·W + b) for X gathered from u8 images (a first hidden layer fed by the trainer's
    /// image set).</summary>
    /// <param name="x">X, N×K: N images picked by index, each byte times the scale.</param>
    /// <param name="w">W, K×C, dense.</param>
    /// <param name="bias">b, C floats; null for no bias.</param>
    /// <param name="y">Y, N×C, dense; receives the result.</param>
    /// <exception cref="ArgumentException">As for Forward.</exception>
    /// <exception cref="CudaException">The launch failed.</exception>
    public void ForwardRelu(PixelRows x, DeviceMatrix w, DeviceBuffer<float>? bias, DeviceMatrix y) =>
        Forward("linear_relu_forward_u8", x, w, bias, y);

    private void Forward(string product, DeviceMatrix x, DeviceMatrix w, DeviceBuffer<float>? bias, DeviceMatrix y)
    {
        Matrix(Device, x, "X", dense: false);
        CheckForward(x.Rows, x.Cols, w, bias, y);
        Distinct(y.Buffer, "Y", x.Buffer, w.Buffer, bias);
        if (y.Rows == 0)
            return;
        Launch(product, y.Rows, y.Cols, transposedSimd: false,
            x.Buffer, x.Stride, w.Buffer, Pointer(bias), y.Buffer, y.Rows, x.Cols, y.Cols);
    }

    /// <summary>Y = X·W + b for X gathered from u8 images.</summary>
    /// <param name="x">X, N×K: N images picked by index, each byte times the scale.</param>
    /// <param name="w">W, K×C, dense.</param>
    /// <param name="bias">b, C floats; null for no bias.</param>
    /// <param name="y">Y, N×C, dense; receives the result.</param>
    /// <exception cref="ArgumentException">The shapes do not chain (the message names both shapes), the batch
    /// reaches past its index or image set, a buffer is too small or lives on another device, or the output shares
    /// a buffer with an input.</exception>
    /// <exception cref="CudaException">The launch failed.</exception>
    public void Forward(PixelRows x, DeviceMatrix w, DeviceBuffer<float>? bias, DeviceMatrix y) =>
        Forward("linear_forward_u8", x, w, bias, y);

    private void Forward(string product, PixelRows x, DeviceMatrix w, DeviceBuffer<float>? bias, DeviceMatrix y)
    {
        Pixels(Device, x, "X");
        CheckForward(x.Rows, x.Cols, w, bias, y);
        Distinct(y.Buffer, "Y", w.Buffer, bias);
        if (y.Rows == 0)
            return;
        Launch(product, y.Rows, y.Cols, transposedSimd: false,
            x.Images, x.Cols, x.ImageCount, Pointer(x.Index), x.Offset, x.Scale,
            w.Buffer, Pointer(bias), y.Buffer, y.Rows, x.Cols, y.Cols);
    }

    /// <summary>dX = dY·Wᵀ, the gradient with respect to the layer's input.</summary>
    /// <param name="dy">dY, N×C, dense.</param>
    /// <param name="w">W, K×C, dense.</param>
    /// <param name="dx">dX, N×K, dense; receives the result.</param>
    /// <exception cref="ArgumentException">The shapes do not chain (the message names both shapes), a buffer is too
    /// small for its shape, lives on another device, or the output shares a buffer with an input.</exception>
    /// <exception cref="CudaException">The launch failed.</exception>
    public void BackwardInput(DeviceMatrix dy, DeviceMatrix w, DeviceMatrix dx)
    {
        CheckBackwardInput(dy, w, dx);
        Distinct(dx.Buffer, "dX", dy.Buffer, w.Buffer);
        if (dx.Rows == 0)
            return;
        Launch("linear_backward_input_f32", dx.Rows, dx.Cols, transposedSimd: false,
            dy.Buffer, w.Buffer, dx.Buffer, dy.Rows, w.Rows, w.Cols);
    }

    /// <summary>dX = (dY·Wᵀ) ⊙ [A &gt; 0]: the input gradient of a layer whose input A is a ReLU's saved output,
    /// taken through that ReLU in the same pass (the values of <see cref="Relu.Backward"/> after
    /// <see cref="BackwardInput"/>).</summary>
    /// <param name="dy">dY, N×C, dense.</param>
    /// <param name="w">W, K×C, dense.</param>
    /// <param name="activation">A, N×K, dense: this layer's input, the output of the ReLU before it.</param>
    /// <param name="dx">dX, N×K, dense; receives the gradient with respect to the ReLU's input.</param>
    /// <exception cref="ArgumentException">The shapes do not chain (the message names both shapes), a buffer is too
    /// small for its shape, lives on another device, or the output shares a buffer with an input.</exception>
    /// <exception cref="CudaException">The launch failed.</exception>
    public void BackwardInputRelu(DeviceMatrix dy, DeviceMatrix w, DeviceMatrix activation, DeviceMatrix dx)
    {
        CheckBackwardInput(dy, w, dx);
        Matrix(Device, activation, "A", dense: true);
        if (activation.Rows != dx.Rows || activation.Cols != dx.Cols)
            throw new ArgumentException(Invariant($"A is {activation} but dX is {dx}: the ReLU's mask needs the shape of dX."), nameof(activation));
        Distinct(dx.Buffer, "dX", dy.Buffer, w.Buffer, activation.Buffer);
        if (dx.Rows == 0)
            return;
        Launch("linear_backward_input_relu_f32", dx.Rows, dx.Cols, transposedSimd: false,
            dy.Buffer, w.Buffer, activation.Buffer, dx.Buffer, dy.Rows, w.Rows, w.Cols);
    }

    private void CheckBackwardInput(DeviceMatrix dy, DeviceMatrix w, DeviceMatrix dx)
    {
        Matrix(Device, dy, "dY", dense: true);
        Matrix(Device, w, "W", dense: true);
        Matrix(Device, dx, "dX", dense: true);
        if (dy.Cols != w.Cols)
            throw new ArgumentException(Invariant($"dY is {dy} but W is {w}: dY·Wᵀ needs as many columns in dY as in W (C)."), nameof(dy));
        if (dx.Rows != dy.Rows || dx.Cols != w.Rows)
            throw new ArgumentException(Invariant($"dX is {dx} but dY·Wᵀ is {dy.Rows}×{w.Rows} (dY is {dy}, W is {w})."), nameof(dx));
    }

    /// <summary>dW = Xᵀ·dY, the gradient with respect to the weights.</summary>
    /// <param name="x">X, N×K, any row stride.</param>
    /// <param name="dy">dY, N×C, dense.</param>
    /// <param name="dw">dW, K×C, dense; receives the result (zeros when N is 0).</param>
    /// <exception cref="ArgumentException">The shapes do not chain (the message names both shapes), a buffer is too
    /// small for its shape, lives on another device, or the output shares a buffer with an input.</exception>
    /// <exception cref="CudaException">The launch failed.</exception>
    public void BackwardWeight(DeviceMatrix x, DeviceMatrix dy, DeviceMatrix dw)
    {
        Matrix(Device, x, "X", dense: false);
        CheckBackwardWeight(x.Rows, x.Cols, dy, dw);
        Distinct(dw.Buffer, "dW", x.Buffer, dy.Buffer);
        Launch("linear_backward_weight_f32", dw.Rows, dw.Cols, transposedSimd: true,
            x.Buffer, x.Stride, dy.Buffer, dw.Buffer, x.Rows, x.Cols, dy.Cols);
    }

    /// <summary>dW = Xᵀ·dY for X gathered from u8 images.</summary>
    /// <param name="x">X, N×K: N images picked by index, each byte times the scale.</param>
    /// <param name="dy">dY, N×C, dense.</param>
    /// <param name="dw">dW, K×C, dense; receives the result (zeros when N is 0).</param>
    /// <exception cref="ArgumentException">The shapes do not chain (the message names both shapes), the batch
    /// reaches past its index or image set, a buffer is too small or lives on another device, or the output shares
    /// a buffer with an input.</exception>
    /// <exception cref="CudaException">The launch failed.</exception>
    public void BackwardWeight(PixelRows x, DeviceMatrix dy, DeviceMatrix dw)
    {
        Pixels(Device, x, "X");
        CheckBackwardWeight(x.Rows, x.Cols, dy, dw);
        Distinct(dw.Buffer, "dW", dy.Buffer);
        Launch("linear_backward_weight_u8", dw.Rows, dw.Cols, transposedSimd: true,
            x.Images, x.Cols, x.ImageCount, Pointer(x.Index), x.Offset, x.Scale,
            dy.Buffer, dw.Buffer, x.Rows, x.Cols, dy.Cols);
    }

    /// <summary>db = Σ over rows of dY, summed in row order (one kernel for every variant).</summary>
    /// <param name="dy">dY, N×C, dense.</param>
    /// <param name="db">db, C floats; receives the result (zeros when N is 0).</param>
    /// <exception cref="ArgumentException">A buffer is too small for its shape, lives on another device, or the
    /// output shares a buffer with the input.</exception>
    /// <exception cref="CudaException">The launch failed.</exception>
    public void BackwardBias(DeviceMatrix dy, DeviceBuffer<float> db)
    {
        Matrix(Device, dy, "dY", dense: true);
        Vector(Device, db, dy.Cols, "db", dy, static dy => Invariant($"dY is {dy}, so db"));
        Distinct(db, "db", dy.Buffer);
        Device.Launch(Device.Kernel("linear_backward_bias_f32"), new Dim3(Blocks(dy.Cols, NaiveBlock)), NaiveBlock, 0,
            dy.Buffer, db, dy.Rows, dy.Cols);
    }

    /// <summary>The kernel a product runs, for example <c>linear_forward_u8_simd</c>.</summary>
    /// <param name="product">"linear_forward_f32", "linear_forward_u8", "linear_backward_input_f32",
    /// "linear_backward_weight_f32", "linear_backward_weight_u8", or a fused one: "linear_relu_forward_f32",
    /// "linear_relu_forward_u8", "linear_backward_input_relu_f32".</param>
    /// <returns>The entry name.</returns>
    public string KernelName(string product) => product + Kernels switch
    {
        LinearVariant.Naive => "_naive",
        LinearVariant.SharedMemory => "_smem",
        _ => "_simd",
    };

    // X is n×k (a DeviceMatrix or PixelRows; both print as "n×k"). Messages are built only on failure.
    private void CheckForward(int n, int k, DeviceMatrix w, DeviceBuffer<float>? bias, DeviceMatrix y)
    {
        Matrix(Device, w, "W", dense: true);
        Matrix(Device, y, "Y", dense: true);
        if (k != w.Rows)
            throw new ArgumentException(Invariant($"X is {n}×{k} but W is {w}: X·W needs as many columns in X as rows in W (K)."), nameof(w));
        if (y.Rows != n || y.Cols != w.Cols)
            throw new ArgumentException(Invariant($"Y is {y} but X·W is {n}×{w.Cols} (X is {n}×{k}, W is {w})."), nameof(y));
        if (bias is not null)
            Vector(Device, bias, w.Cols, "b", w, static w => Invariant($"W is {w}, so the bias"));
    }

    private void CheckBackwardWeight(int n, int k, DeviceMatrix dy, DeviceMatrix dw)
    {
        Matrix(Device, dy, "dY", dense: true);
        Matrix(Device, dw, "dW", dense: true);
        if (dy.Rows != n)
            throw new ArgumentException(Invariant($"X is {n}×{k} but dY is {dy}: Xᵀ·dY needs as many rows in X as in dY (N)."), nameof(dy));
        if (dw.Rows != k || dw.Cols != dy.Cols)
            throw new ArgumentException(Invariant($"dW is {dw} but Xᵀ·dY is {k}×{dy.Cols} (X is {n}×{k}, dY is {dy})."), nameof(dw));
    }

    // Launches one product whose output is rows×cols. The simd dW kernel computes dWᵀ (C×K): transposedSimd
    // swaps the shape its grid covers.
    private void Launch(string product, int rows, int cols, bool transposedSimd, params ReadOnlySpan<KernelArg> args)
    {
        Dim3 grid, block;
        switch (Kernels)
        {
            case LinearVariant.Naive:
                (grid, block) = (new Dim3(Blocks((long)rows * cols, NaiveBlock)), NaiveBlock);
                break;
            case LinearVariant.SharedMemory:
                (grid, block) = (new Dim3(Blocks(cols, SmemTileCols), Blocks(rows, SmemTileRows)), SmemBlock);
                break;
            default:
                if (transposedSimd)
                    (rows, cols) = (cols, rows);
                (grid, block) = (new Dim3(Blocks(Blocks(rows, SimdRowsPerThread), SimdBlock), Blocks(cols, SimdColsPerThread)), SimdBlock);
                break;
        }
        string kernelName = _kernelNames[product];
        if (grid.Y > MaxGridY)
            throw new ArgumentException(Invariant($"The output of {product} is {rows}×{cols}: too large for one launch of {kernelName}."));
        Device.Launch(Device.Kernel(kernelName), grid, block, 0, args);
    }

    private static uint Blocks(long count, int per)
    {
        long blocks = (count + per - 1) / per;
        if (blocks > uint.MaxValue)
            throw new ArgumentException(Invariant($"{count} outputs are too many for one launch."));
        return (uint)Math.Max(1, blocks);
    }

    private static KernelArg Pointer<T>(DeviceBuffer<T>? buffer) where T : unmanaged => buffer is null ? 0UL : buffer;
}
