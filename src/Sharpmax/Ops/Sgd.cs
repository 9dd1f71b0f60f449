using static Sharpmax.Ops.MatrixChecks;

namespace Sharpmax.Ops;

/// <summary>
/// One step of plain SGD with optional (coupled) L2 weight decay, as torch.optim.SGD without momentum
/// (kernels/sgd.cu): w ← w − lr·(g + weightDecay·w), element by element.
/// </summary>
public static class Sgd
{
    /// <summary>Updates every element of <paramref name="parameters"/> in place, on the buffer's device.</summary>
    /// <param name="parameters">The parameters w.</param>
    /// <param name="gradient">Their gradient g: as many floats, on the same device, in another buffer.</param>
    /// <param name="learningRate">lr.</param>
    /// <param name="weightDecay">The L2 coefficient; 0 for none.</param>
    /// <exception cref="ArgumentException">The gradient's length differs, it lives on another device, or it is the
    /// parameters' own buffer.</exception>
    /// <exception cref="CudaException">The launch failed.</exception>
    public static void Step(DeviceBuffer<float> parameters, DeviceBuffer<float> gradient, float learningRate, float weightDecay = 0f)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(gradient);
        var device = parameters.Device;
        RowShapes.SameDevice(device, gradient.Device, nameof(gradient));
        if (gradient.Length != parameters.Length)
            throw new ArgumentException(Invariant($"The parameters hold {parameters.Length} floats but the gradient holds {gradient.Length}."), nameof(gradient));
        if (ReferenceEquals(parameters, gradient))
            throw new ArgumentException("The gradient is the parameters' own buffer.", nameof(gradient));
        if (parameters.Length > int.MaxValue)
            throw new ArgumentException(Invariant($"{parameters.Length} parameters are more than one launch takes ({int.MaxValue})."), nameof(parameters));
        if (parameters.Length == 0)
            return;
        var (grid, block) = ContiguousRuns.For(device, parameters.Length);
        device.Launch(device.Kernel("sgd_update_f32"), grid, block, 0, parameters, gradient, learningRate, weightDecay, (int)parameters.Length);
    }
}
