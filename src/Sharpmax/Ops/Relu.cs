using static Sharpmax.Ops.MatrixChecks;

namespace Sharpmax.Ops;

/// <summary>
/// The rectified linear unit and its backward, element by element, on the buffers' device (kernels/relu.cu).
/// Forward: y = max(x, 0) (a NaN stays NaN, −0 becomes +0). Backward: dX = dY where the saved activation is
/// positive, else 0 (PyTorch's threshold_backward: a NaN activation passes dY through). Both run in place when
/// the output is the input's own matrix. <see cref="Linear.ForwardRelu(DeviceMatrix, DeviceMatrix, DeviceBuffer{float}?, DeviceMatrix)"/>
/// and <see cref="Linear.BackwardInputRelu"/> fuse the same functions into the linear layer.
/// </summary>
public static class Relu
{
    /// <summary>y = max(x, 0). <paramref name="y"/> may be <paramref name="x"/> itself (in place).</summary>
    /// <param name="x">The input, dense.</param>
    /// <param name="y">The output, dense, the shape of <paramref name="x"/>.</param>
    /// <exception cref="ArgumentException">The shapes differ (the message names both), a buffer is too small or
    /// lives on another device, or the outputs overlap the inputs other than exactly.</exception>
    /// <exception cref="CudaException">The launch failed.</exception>
    public static void Forward(DeviceMatrix x, DeviceMatrix y)
    {
        var device = DeviceOf(x, "X");
        Matrix(device, x, "X", dense: true);
        Matrix(device, y, "Y", dense: true);
        SameShape(y, "Y", x, "X");
        if (Shape(device, x, out var grid, out var block) is int count)
            device.Launch(device.Kernel("relu_forward_f32"), grid, block, 0, x.Buffer, y.Buffer, count);
    }

    /// <summary>dX = dY ⊙ [A &gt; 0], the gradient through a ReLU whose saved output is <paramref name="activation"/>.
    /// <paramref name="dx"/> may be <paramref name="dy"/> itself (in place), not the activation.</summary>
    /// <param name="dy">The gradient with respect to the ReLU's output, dense.</param>
    /// <param name="activation">A, the ReLU's output (or its input: the same sign), dense, the shape of dY.</param>
    /// <param name="dx">The gradient with respect to its input, dense, the shape of dY; receives the result.</param>
    /// <exception cref="ArgumentException">The shapes differ (the message names both), a buffer is too small or
    /// lives on another device, or dX is the activation's buffer.</exception>
    /// <exception cref="CudaException">The launch failed.</exception>
    public static void Backward(DeviceMatrix dy, DeviceMatrix activation, DeviceMatrix dx)
    {
        var device = DeviceOf(dy, "dY");
        Matrix(device, dy, "dY", dense: true);
        Matrix(device, activation, "A", dense: true);
        Matrix(device, dx, "dX", dense: true);
        SameShape(activation, "A", dy, "dY");
        SameShape(dx, "dX", dy, "dY");
        if (ReferenceEquals(dx.Buffer, activation.Buffer) && !ReferenceEquals(dx.Buffer, dy.Buffer))
            throw new ArgumentException("dX shares a buffer with the activation A; it may only overwrite dY in place.", nameof(dx));
        if (Shape(device, dy, out var grid, out var block) is int count)
            device.Launch(device.Kernel("relu_backward_f32"), grid, block, 0, dy.Buffer, activation.Buffer, dx.Buffer, count);
    }

    private static Device DeviceOf(DeviceMatrix m, string name) =>
        m.Buffer?.Device ?? throw new ArgumentException($"{name} has no buffer.", name);

    private static void SameShape(DeviceMatrix m, string name, DeviceMatrix of, string ofName)
    {
        if (m.Rows != of.Rows || m.Cols != of.Cols)
            throw new ArgumentException(Invariant($"{name} is {m} but {ofName} is {of}: ReLU works element by element on one shape."), name);
    }

    // The element count and the contiguous-runs launch for it; null when there is nothing to do.
    private static int? Shape(Device device, DeviceMatrix m, out Dim3 grid, out Dim3 block)
    {
        long count = (long)m.Rows * m.Cols;
        if (count > int.MaxValue)
            throw new ArgumentException(Invariant($"{m} is {count} elements, more than one launch takes ({int.MaxValue})."));
        (grid, block) = ContiguousRuns.For(device, count);
        return count == 0 ? null : (int)count;
    }
}
