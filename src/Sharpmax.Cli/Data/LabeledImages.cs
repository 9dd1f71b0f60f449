namespace Sharpmax.Cli.Data;

/// <summary>Images (28×28 bytes each, row-major, back to back) and their labels (0..9).</summary>
public sealed class LabeledImages
{
    public LabeledImages(byte[] pixels, byte[] labels)
    {
        ArgumentNullException.ThrowIfNull(pixels);
        ArgumentNullException.ThrowIfNull(labels);
        if (pixels.Length != labels.Length * IdxReader.PixelsPerImage)
        {
            throw new ArgumentException($"{pixels.Length} pixel bytes do not make {labels.Length} images of {IdxReader.PixelsPerImage}");
        }
        Pixels = pixels;
        Labels = labels;
    }

    public byte[] Pixels { get; }
    public byte[] Labels { get; }
    public int Count => Labels.Length;

    public ReadOnlySpan<byte> Image(int index) =>
        Pixels.AsSpan(index * IdxReader.PixelsPerImage, IdxReader.PixelsPerImage);

    /// <summary>Reads an image file and its label file and checks that their counts agree.</summary>
    public static LabeledImages Load(string imagesPath, string labelsPath)
    {
        byte[] pixels = IdxReader.ReadImages(imagesPath);
        byte[] labels = IdxReader.ReadLabels(labelsPath);
        int images = pixels.Length / IdxReader.PixelsPerImage;
        if (images != labels.Length)
        {
            throw new IdxFormatException(
                $"{imagesPath} holds {images} images but {labelsPath} holds {labels.Length} labels; the counts must agree");
        }
        return new LabeledImages(pixels, labels);
    }
}
