namespace Sharpmax.Cli.Data;

/// <summary>The Fashion-MNIST training set (60 000 images) and test set (10 000 images).</summary>
public sealed record FashionMnist(LabeledImages Train, LabeledImages Test)
{
    public static FashionMnist Load(FashionMnistFiles files)
    {
        ArgumentNullException.ThrowIfNull(files);
        return new FashionMnist(
            LabeledImages.Load(files.TrainImages, files.TrainLabels),
            LabeledImages.Load(files.TestImages, files.TestLabels));
    }

    /// <summary>Loads only the test set (for <c>eval</c> and <c>predict</c>).</summary>
    public static LabeledImages LoadTest(FashionMnistFiles files)
    {
        ArgumentNullException.ThrowIfNull(files);
        return LabeledImages.Load(files.TestImages, files.TestLabels);
    }
}
