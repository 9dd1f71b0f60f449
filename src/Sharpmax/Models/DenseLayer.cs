using Sharpmax.Ops;

namespace Sharpmax.Models;

/// <summary>
/// One linear layer of an <see cref="Mlp"/>: its parameters W (K×C) and b (C), their gradients, and the
/// device buffers its forward writes for the backward (the output of up to <see cref="Mlp.MaxBatch"/> rows, and
/// the gradient with respect to it). Owned and disposed by the model.
/// </summary>
public sealed class DenseLayer : IDisposable
{
    internal DenseLayer(Device device, int inputs, int outputs, int maxBatch, bool hidden)
    {
        Inputs = inputs;
        Outputs = outputs;
        Hidden = hidden;
        var owned = new List<IDisposable>();
        try
        {
            DeviceBuffer<float> Zeroed(long count)
            {
                var b = device.AllocateZeroed<float>(count);
                owned.Add(b);
                return b;
            }
            Weights = new DeviceMatrix(Zeroed((long)inputs * outputs), inputs, outputs);
            Bias = Zeroed(outputs);
            WeightGradient = new DeviceMatrix(Zeroed((long)inputs * outputs), inputs, outputs);
            BiasGradient = Zeroed(outputs);
            OutputBuffer = Zeroed((long)maxBatch * outputs);
            // The output layer's gradient comes from the loss; a hidden layer's is written by the layer above.
            OutputGradientBuffer = hidden ? Zeroed((long)maxBatch * outputs) : null;
        }
        catch
        {
            foreach (var b in owned)
                b.Dispose();
            throw;
        }
    }

    /// <summary>K, the features each row brings in.</summary>
    public int Inputs { get; }

    /// <summary>C, the features each row leaves with.</summary>
    public int Outputs { get; }

    /// <summary>True for a hidden layer (a ReLU follows it); false for the output layer (logits).</summary>
    public bool Hidden { get; }

    /// <summary>W, K×C, dense: the layer computes X·W + b.</summary>
    public DeviceMatrix Weights { get; }

    /// <summary>b, C floats.</summary>
    public DeviceBuffer<float> Bias { get; }

    /// <summary>dW from the last <see cref="Mlp.Backward(DeviceMatrix, DeviceMatrix)"/>.</summary>
    public DeviceMatrix WeightGradient { get; }

    /// <summary>db from the last backward.</summary>
    public DeviceBuffer<float> BiasGradient { get; }

    /// <summary>The output of the last forward's <paramref name="rows"/> rows: relu(X·W + b) for a hidden layer
    /// (the activation the backward masks by), X·W + b (the logits) for the output layer.</summary>
    /// <param name="rows">The batch's rows, at most the model's MaxBatch.</param>
    /// <returns>A rows×C view of the layer's output buffer.</returns>
    public DeviceMatrix Output(int rows) => new(OutputBuffer, rows, Outputs);

    internal DeviceBuffer<float> OutputBuffer { get; }

    // dZ of a hidden layer: the gradient with respect to its pre-activation, written by the layer above.
    internal DeviceBuffer<float>? OutputGradientBuffer { get; }

    /// <summary>Frees the layer's device buffers.</summary>
    public void Dispose()
    {
        Weights.Buffer.Dispose();
        Bias.Dispose();
        WeightGradient.Buffer.Dispose();
        BiasGradient.Dispose();
        OutputBuffer.Dispose();
        OutputGradientBuffer?.Dispose();
    }
}
