namespace Sharpmax.Cli.Output;

/// <summary>One linear layer of a checkpointed model: W (row-major <see cref="Inputs"/>×<see cref="Outputs"/>) and b.</summary>
public sealed class CheckpointLayer
{
    /// <exception cref="ArgumentException">A size below 1, or W or b of another length than the sizes need.</exception>
    public CheckpointLayer(int inputs, int outputs, float[] weights, float[] bias)
    {
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentNullException.ThrowIfNull(bias);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inputs);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(outputs);
        if (weights.LongLength != (long)inputs * outputs || bias.Length != outputs)
        {
            throw new ArgumentException($"W has {weights.Length} values and b {bias.Length}; K={inputs}, C={outputs} needs {(long)inputs * outputs} and {outputs}");
        }
        Inputs = inputs;
        Outputs = outputs;
        Weights = weights;
        Bias = bias;
    }

    /// <summary>K, the features a row brings in.</summary>
    public int Inputs { get; }
    /// <summary>C, the features a row leaves with.</summary>
    public int Outputs { get; }
    /// <summary>W, row-major K×C.</summary>
    public float[] Weights { get; }
    /// <summary>b, C values.</summary>
    public float[] Bias { get; }
}
