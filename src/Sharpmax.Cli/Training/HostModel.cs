using Sharpmax.Cli.Data;
using Sharpmax.Cli.Output;

namespace Sharpmax.Cli.Training;

/// <summary>
/// A checkpointed model on the host, in float64, for single images: h₀ = x/255, h_l = relu(h_{l-1}·W_l + b_l)
/// for the hidden layers, softmax(h·W_L + b_L) at the end (softmax regression when there is one layer).
/// </summary>
public static class HostModel
{
    /// <summary>Class probabilities for one 28×28 image of bytes.</summary>
    public static double[] Probabilities(Checkpoint model, ReadOnlySpan<byte> pixels)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (pixels.Length != model.Features)
        {
            throw new ArgumentException($"{pixels.Length} pixels, the model takes {model.Features}");
        }
        var h = new double[pixels.Length];
        for (int k = 0; k < pixels.Length; k++)
        {
            h[k] = pixels[k] / 255.0;
        }
        for (int l = 0; l < model.Layers.Count; l++)
        {
            h = Linear(model.Layers[l], h, relu: l + 1 < model.Layers.Count);
        }
        double max = h.Max();
        double sum = 0;
        for (int j = 0; j < h.Length; j++)
        {
            h[j] = Math.Exp(h[j] - max);
            sum += h[j];
        }
        for (int j = 0; j < h.Length; j++)
        {
            h[j] /= sum;
        }
        return h;
    }

    private static double[] Linear(CheckpointLayer layer, double[] x, bool relu)
    {
        int c = layer.Outputs;
        var z = new double[c];
        for (int j = 0; j < c; j++)
        {
            z[j] = layer.Bias[j];
        }
        for (int k = 0; k < x.Length; k++)
        {
            for (int j = 0; j < c; j++)
            {
                z[j] += x[k] * layer.Weights[k * c + j];
            }
        }
        if (relu)
        {
            for (int j = 0; j < c; j++)
            {
                z[j] = Math.Max(z[j], 0);
            }
        }
        return z;
    }

    /// <summary>Whether the checkpoint's shape fits Fashion-MNIST; a user error otherwise.</summary>
    public static void CheckFashionMnistShape(Checkpoint model, string path)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (model.Features != IdxReader.PixelsPerImage || model.Classes != IdxReader.ClassCount)
        {
            throw new CheckpointFormatException(
                $"{path}: the model maps {model.Features} inputs to {model.Classes} classes; Fashion-MNIST needs {IdxReader.PixelsPerImage} to {IdxReader.ClassCount}");
        }
    }
}
