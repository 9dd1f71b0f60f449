using Sharpmax.Cli.Data;

namespace Sharpmax.Tests.Cli;

/// <summary>Fashion-MNIST-shaped data for trainer tests that need no real images.</summary>
internal static class SyntheticData
{
    /// <summary>Random pixels and labels: not learnable, but every number of a training step gets exercised.</summary>
    public static FashionMnist RandomImages(int train, int test, int seed)
    {
        var random = new Random(seed);
        LabeledImages Set(int count)
        {
            var pixels = new byte[count * IdxReader.PixelsPerImage];
            random.NextBytes(pixels);
            return new LabeledImages(pixels, Enumerable.Range(0, count).Select(_ => (byte)random.Next(IdxReader.ClassCount)).ToArray());
        }
        return new FashionMnist(Set(train), Set(test));
    }
}
