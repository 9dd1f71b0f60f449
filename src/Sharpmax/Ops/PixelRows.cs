using System.Globalization;

namespace Sharpmax.Ops;

/// <summary>
/// An N×K batch of float inputs read from a set of u8 images on the device, so a whole training set can stay on
/// the device as bytes and be shuffled by index: row i is image <c>Index[Offset + i]</c> (image <c>Offset + i</c>
/// when <see cref="Index"/> is null), and X[i, k] = <c>Images[image·K + k]</c>·<see cref="Scale"/>.
/// An index value outside the image set is caught on the device: that row reads as NaN (so do the outputs it
/// feeds), never as memory outside <see cref="Images"/>.
/// </summary>
/// <param name="Images">The image set: images of <paramref name="Cols"/> bytes, one after the other.</param>
/// <param name="Rows">Rows N of the batch, at least 0.</param>
/// <param name="Cols">Pixels K per image, at least 1.</param>
/// <param name="Index">Image indices; null takes images in order.</param>
/// <param name="Offset">Position of the batch's first row in <paramref name="Index"/> (or in the image set).</param>
/// <param name="Scale">Factor applied to each byte; 1/255 maps pixels to [0, 1].</param>
public sealed record PixelRows(DeviceBuffer<byte> Images, int Rows, int Cols, DeviceBuffer<int>? Index = null, int Offset = 0,
    float Scale = 1f / 255f)
{
    /// <summary>Whole images in <see cref="Images"/>.</summary>
    public int ImageCount => Images is null || Cols <= 0 ? 0 : (int)Math.Min(int.MaxValue, Images.Length / Cols);

    /// <summary>The shape as "Rows×Cols", as error messages print it.</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Rows}×{Cols}");
}
