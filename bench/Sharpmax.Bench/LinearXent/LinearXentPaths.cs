using Sharpmax.Ops;

namespace Sharpmax.Bench.LinearXent;

/// <summary>The inputs and outputs both paths share on the device: H, W, b, labels in; dH, dW, db out.</summary>
internal sealed class LinearXentBuffers : IDisposable
{
    public LinearXentBuffers(Device device, LinearXentProblem problem)
    {
        Device = device;
        Shape = problem.Shape;
        H = device.Upload<float>(problem.H);
        W = device.Upload<float>(problem.W);
        B = device.Upload<float>(problem.B);
        Labels = device.Upload<int>(problem.Labels);
        DH = device.Allocate<float>((long)Shape.N * Shape.K);
        DW = device.Allocate<float>((long)Shape.K * Shape.C);
        DB = device.Allocate<float>(Shape.C);
    }

    public Device Device { get; }
    public LinearXentShape Shape { get; }
    public DeviceBuffer<float> H { get; }
    public DeviceBuffer<float> W { get; }
    public DeviceBuffer<float> B { get; }
    public DeviceBuffer<int> Labels { get; }
    public DeviceBuffer<float> DH { get; }
    public DeviceBuffer<float> DW { get; }
    public DeviceBuffer<float> DB { get; }

    public DeviceMatrix HMatrix => new(H, Shape.N, Shape.K);
    public DeviceMatrix WMatrix => new(W, Shape.K, Shape.C);
    public DeviceMatrix DHMatrix => new(DH, Shape.N, Shape.K);
    public DeviceMatrix DWMatrix => new(DW, Shape.K, Shape.C);

    /// <summary>The outputs of the path that ran last.</summary>
    public LinearXentOutputs Download(float loss) => new(loss, DH.ToArray(), DW.ToArray(), DB.ToArray());

    public void Dispose()
    {
        foreach (var buffer in new IDisposable[] { H, W, B, Labels, DH, DW, DB })
            buffer.Dispose();
    }
}

/// <summary>
/// The unfused chain as a training step runs it today: Y = H·W + b into an N×C logits buffer
/// (<see cref="Linear.Forward(DeviceMatrix, DeviceMatrix, DeviceBuffer{float}?, DeviceMatrix)"/>), the fused
/// cross-entropy forward+backward into an N×C gradient G, then dH = G·Wᵀ, dW = Hᵀ·G and db = Σ_rows G. The two
/// N×C buffers are its workspace: allocated by the constructor, so a peak measured around construction and the
/// first run counts them.
/// </summary>
internal sealed class UnfusedChain : IDisposable
{
    private readonly Linear _linear;
    private readonly FusedCrossEntropy _crossEntropy;
    private readonly DeviceBuffer<float> _logits, _gradient;
    private readonly LinearXentShape _shape;

    public UnfusedChain(Device device, LinearXentShape shape)
    {
        _shape = shape;
        _linear = new Linear(device);
        _crossEntropy = new FusedCrossEntropy(device);
        _logits = device.Allocate<float>((long)shape.N * shape.C);
        _gradient = device.Allocate<float>((long)shape.N * shape.C);
    }

    /// <summary>Forward and backward, synchronized; returns the mean loss.</summary>
    public float Run(LinearXentBuffers io)
    {
        var (n, c) = (_shape.N, _shape.C);
        var logits = new DeviceMatrix(_logits, n, c);
        var gradient = new DeviceMatrix(_gradient, n, c);
        _linear.Forward(io.HMatrix, io.WMatrix, io.B, logits);
        float loss = _crossEntropy.ForwardBackward(_logits, io.Labels, n, c, _gradient);
        _linear.BackwardInput(gradient, io.WMatrix, io.DHMatrix);
        _linear.BackwardWeight(io.HMatrix, gradient, io.DWMatrix);
        _linear.BackwardBias(gradient, io.DB);
        io.Device.Synchronize();
        return loss;
    }

    /// <summary>One run, each launch synchronized and timed alone: where the chain's time goes.</summary>
    public IReadOnlyList<LinearXentStage> RunStages(LinearXentBuffers io)
    {
        var (n, c) = (_shape.N, _shape.C);
        var logits = new DeviceMatrix(_logits, n, c);
        var gradient = new DeviceMatrix(_gradient, n, c);
        return
        [
            LinearXentStage.Time("unfused: Y = H·W + b", 1, io.Device, () => _linear.Forward(io.HMatrix, io.WMatrix, io.B, logits)),
            LinearXentStage.Time("unfused: fused cross-entropy forward+backward into G", 0, io.Device, () => _crossEntropy.ForwardBackward(_logits, io.Labels, n, c, _gradient)),
            LinearXentStage.Time("unfused: dH = G·Wᵀ", 1, io.Device, () => _linear.BackwardInput(gradient, io.WMatrix, io.DHMatrix)),
            LinearXentStage.Time("unfused: dW = Hᵀ·G", 1, io.Device, () => _linear.BackwardWeight(io.HMatrix, gradient, io.DWMatrix)),
            LinearXentStage.Time("unfused: db = Σ_rows G", 0, io.Device, () => _linear.BackwardBias(gradient, io.DB)),
        ];
    }

    public void Dispose()
    {
        _crossEntropy.Dispose();
        _logits.Dispose();
        _gradient.Dispose();
    }
}

/// <summary><see cref="LinearCrossEntropy.ForwardBackward"/> on the shared buffers: mean loss, dH, dW, db, no N×C
/// buffer. Its workspaces (3N floats of row statistics; on the CPU device a packing workspace per worker core) are
/// allocated on the first run, so a peak measured around construction and the first run counts them.</summary>
internal sealed class FusedPath(Device device) : IDisposable
{
    private readonly LinearCrossEntropy _op = new(device);

    /// <summary>"_simd" or "_block": the kernels that run.</summary>
    public string Kernels => _op.Kernels == LinearCrossEntropyVariant.Simd ? "_simd" : "_block";

    /// <summary>Forward and backward, synchronized; returns the mean loss.</summary>
    public float Run(LinearXentBuffers io)
    {
        float loss = _op.ForwardBackward(io.HMatrix, io.WMatrix, WeightLayout.InputsByClasses, io.B, io.Labels,
            io.DHMatrix, io.DWMatrix, io.DB);
        io.Device.Synchronize();
        return loss;
    }

    /// <summary>Where linear_xent's time goes: the forward alone, then the forward with only dH asked for and with
    /// only dW and db, each minus the forward (the API runs each backward pass after a forward).</summary>
    public IReadOnlyList<LinearXentStage> RunStages(LinearXentBuffers io)
    {
        var forward = LinearXentStage.Time("linear_xent: forward (logits by tiles, online log-sum-exp)", 1, io.Device,
            () => _op.Forward(io.HMatrix, io.WMatrix, WeightLayout.InputsByClasses, io.B, io.Labels));
        // On the CPU device the forward makes dH itself (one more product, no logit recomputed); the GPU's kernels
        // recompute the logits in a dH pass of their own.
        bool dhInForward = _op.Kernels == LinearCrossEntropyVariant.Simd;
        var input = LinearXentStage.Time("", dhInForward ? 1 : 2, io.Device, () => _op.ForwardBackward(io.HMatrix, io.WMatrix, WeightLayout.InputsByClasses,
            io.B, io.Labels, io.DHMatrix, null, null));
        var weight = LinearXentStage.Time("", 2, io.Device, () => _op.ForwardBackward(io.HMatrix, io.WMatrix, WeightLayout.InputsByClasses,
            io.B, io.Labels, null, io.DWMatrix, io.DB));
        return
        [
            forward,
            input with
            {
                Name = dhInForward
                    ? "linear_xent: dH in the forward (Σ e·Wᵀ beside the logits; forward+dH minus the forward)"
                    : "linear_xent: dH pass (logits again, then G·Wᵀ; forward+dH minus the forward)",
                Seconds = input.Seconds - forward.Seconds,
            },
            weight with { Name = "linear_xent: dW and db pass (logits again, then Hᵀ·G; forward+dW minus the forward)", Seconds = weight.Seconds - forward.Seconds },
        ];
    }

    public void Dispose() => _op.Dispose();
}
