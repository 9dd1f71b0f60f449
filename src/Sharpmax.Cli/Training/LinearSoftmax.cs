using Sharpmax.Cli.Data;
using Sharpmax.Cli.Output;

namespace Sharpmax.Cli.Training;

/// <summary>The model on the host, in float64, for single images: softmax(x/255 · W + b).</summary>
public static class LinearSoftmax
{
    /// <summary>Class probabilities for one 28×28 image of bytes.</summary>
    public static double[] Probabilities(Checkpoint model, ReadOnlySpan<byte> pixels)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (pixels.Length != model.Features)
        {
            throw new ArgumentException($"{pixels.Length} pixels, the model takes {model.Features}");
        }
        int c = model.Classes;
        var logits = new double[c];
        for (int j = 0; j < c; j++)
        {
            logits[j] = model.Bias[j];
        }
        for (int k = 0; k < pixels.Length; k++)
        {
            double x = pixels[k] / 255.0;
            for (int j = 0; j < c; j++)
            {
                logits[j] += x * model.Weights[k * c + j];
            }
        }
        double max = logits.Max();
        double sum = 0;
        for (int j = 0; j < c; j++)
        {
            logits[j] = Math.Exp(logits[j] - max);
            sum += logits[j];
        }
        for (int j = 0; j < c; j++)
        {
            logits[j] /= sum;
        }
        return logits;
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
