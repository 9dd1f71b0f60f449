using ScottPlot;
using SkiaSharp;
using Sharpmax.Cli.Data;

namespace Sharpmax.Cli.Output;

/// <summary>
/// <c>misclassified.png</c>: the first misclassified test images (in test-set order, so runs compare), each
/// captioned with its test index, true class and predicted class, like d2l's "Prediction" section.
/// </summary>
public static class MisclassifiedTile
{
    public const string FileName = "misclassified.png";
    private const int Scale = 3;
    private const int CellWidth = 120;
    private const int ImageSize = IdxReader.Rows * Scale;
    private const int CellHeight = ImageSize + 56;
    private const int Margin = 10;

    /// <summary>Draws up to <paramref name="maxImages"/> images; returns how many it drew (0 when all are right).</summary>
    public static int Save(string path, LabeledImages test, ReadOnlySpan<int> predictions, IReadOnlyList<string> classNames,
        int columns = 8, int maxImages = 24)
    {
        ArgumentNullException.ThrowIfNull(test);
        ArgumentNullException.ThrowIfNull(classNames);
        var wrong = new List<int>();
        for (int i = 0; i < test.Count && wrong.Count < maxImages; i++)
        {
            if (predictions[i] != test.Labels[i])
            {
                wrong.Add(i);
            }
        }
        int rows = Math.Max(1, (wrong.Count + columns - 1) / columns);
        int width = 2 * Margin + columns * CellWidth;
        int height = 2 * Margin + 30 + rows * CellHeight;

        using var surface = SKSurface.Create(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Premul));
        var canvas = surface.Canvas;
        canvas.Clear(SKColors.White);
        using var typeface = Fonts.GetTypeface(PlotFont.Name, bold: false, italic: false);
        using var boldTypeface = Fonts.GetTypeface(PlotFont.Name, bold: true, italic: false);
        using var titleFont = new SKFont(boldTypeface, 16);
        using var captionFont = new SKFont(typeface, 12);
        using var black = new SKPaint { Color = SKColors.Black, IsAntialias = true };
        using var red = new SKPaint { Color = new SKColor(0xC0, 0x10, 0x10), IsAntialias = true };
        using var gray = new SKPaint { Color = SKColors.Gray, IsAntialias = true };

        string title = wrong.Count == 0
            ? "No misclassified test images"
            : $"Misclassified test images, the first {wrong.Count} in test-set order: index, true class, predicted class (red)";
        canvas.DrawText(title, width / 2f, Margin + 18, SKTextAlign.Center, titleFont, black);

        for (int k = 0; k < wrong.Count; k++)
        {
            int index = wrong[k];
            float left = Margin + k % columns * CellWidth;
            float top = Margin + 30 + k / columns * CellHeight;
            using var image = GrayImage(test.Image(index));
            float imageLeft = left + (CellWidth - ImageSize) / 2f;
            canvas.DrawImage(image, SKRect.Create(imageLeft, top, ImageSize, ImageSize), new SKSamplingOptions(SKFilterMode.Nearest));
            float center = left + CellWidth / 2f;
            canvas.DrawText($"#{index}", center, top + ImageSize + 14, SKTextAlign.Center, captionFont, gray);
            canvas.DrawText(classNames[test.Labels[index]], center, top + ImageSize + 29, SKTextAlign.Center, captionFont, black);
            canvas.DrawText(classNames[predictions[index]], center, top + ImageSize + 44, SKTextAlign.Center, captionFont, red);
        }

        using var snapshot = surface.Snapshot();
        using var png = snapshot.Encode(SKEncodedImageFormat.Png, 100);
        AtomicFile.Write(path, stream => png.SaveTo(stream));
        return wrong.Count;
    }

    private static SKImage GrayImage(ReadOnlySpan<byte> pixels)
    {
        var info = new SKImageInfo(IdxReader.Columns, IdxReader.Rows, SKColorType.Gray8, SKAlphaType.Opaque);
        using var data = SKData.CreateCopy(pixels);
        return SKImage.FromPixels(info, data, IdxReader.Columns);
    }
}
