using Sharpmax.Cli.Output;
using Sharpmax.Models;

namespace Sharpmax.Cli.Training;

/// <summary>Moves a model's parameters between the device (<see cref="Mlp"/>) and a <see cref="Checkpoint"/>.</summary>
public static class MlpParameters
{
    /// <summary>Copies every layer's W and b to the host.</summary>
    public static CheckpointLayer[] Download(Mlp model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return [.. model.Layers.Select(l => new CheckpointLayer(l.Inputs, l.Outputs, l.Weights.Buffer.ToArray(), l.Bias.ToArray()))];
    }

    /// <summary>Copies a checkpoint's parameters into a model of the same sizes.</summary>
    /// <exception cref="ArgumentException">The sizes differ.</exception>
    public static void Upload(Checkpoint checkpoint, Mlp model)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        ArgumentNullException.ThrowIfNull(model);
        if (!HasSizes(model, checkpoint.Sizes))
        {
            throw new ArgumentException($"The checkpoint's layers are {string.Join("-", checkpoint.Sizes)}, the model's {string.Join("-", Sizes(model))}.");
        }
        for (int l = 0; l < checkpoint.Layers.Count; l++)
        {
            model.Layers[l].Weights.Buffer.CopyFrom(checkpoint.Layers[l].Weights);
            model.Layers[l].Bias.CopyFrom(checkpoint.Layers[l].Bias);
        }
    }

    /// <summary>Features from the input to the output.</summary>
    public static int[] Sizes(Mlp model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return [model.Inputs, .. model.Layers.Select(l => l.Outputs)];
    }

    /// <summary>Whether the model's sizes are exactly <paramref name="sizes"/>.</summary>
    public static bool HasSizes(Mlp model, IReadOnlyList<int> sizes) => Sizes(model).SequenceEqual(sizes);
}
