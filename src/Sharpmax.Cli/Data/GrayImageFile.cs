using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using SkiaSharp;

namespace Sharpmax.Cli.Data;

/// <summary>
/// Reads a 28×28 grayscale image for <c>predict --image</c>: binary (P5) or ASCII (P2) PGM, or PNG (colour is
/// converted to luma, transparency composited on black). Fashion-MNIST images are light garments on black.
/// </summary>
public static class GrayImageFile
{
    // A 28×28 image is a few kilobytes in any of these formats (an ASCII PGM with comments perhaps 100 KB).
    private const int MaxFileBytes = 16 << 20;

    private static ReadOnlySpan<byte> PngSignature => [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    /// <summary>Returns 784 pixel bytes, row-major, 0 = black.</summary>
    /// <exception cref="UserErrorException">Unreadable, not PGM/PNG, malformed, or not 28×28.</exception>
    public static byte[] Read(string path)
    {
        byte[] bytes;
        try
        {
            using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
            // Read at most MaxFileBytes + 1: a device file or a huge file cannot fill memory.
            bytes = BoundedRead.Read(file, MaxFileBytes + 1);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new UserErrorException(Directory.Exists(path) ? $"{path}: is a directory, not an image" : $"{path}: cannot read the image: {e.Message}", e);
        }
        if (bytes.Length > MaxFileBytes)
        {
            throw new UserErrorException($"{path}: larger than {MaxFileBytes / (1 << 20)} MiB, far more than a 28×28 image needs");
        }
        if (bytes.AsSpan().StartsWith(PngSignature))
        {
            return ReadPng(path, bytes);
        }
        if (bytes.Length >= 2 && bytes[0] == 'P' && (bytes[1] == '5' || bytes[1] == '2'))
        {
            return ReadPgm(path, bytes);
        }
        throw new UserErrorException($"{path}: not a PGM (P2/P5) or PNG image");
    }

    private static byte[] ReadPng(string path, byte[] bytes)
    {
        // The size comes from the IHDR chunk, which must follow the signature, and is checked before the
        // decoder sees the data: a header declaring 10⁶×10⁶ pixels must not reach an allocation.
        if (bytes.Length < 8 + 8 + 13 || !bytes.AsSpan(12, 4).SequenceEqual("IHDR"u8)
            || BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(8)) != 13)
        {
            throw new UserErrorException($"{path}: not a valid PNG: the IHDR header does not follow the signature (truncated or damaged file)");
        }
        CheckSize(path, BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(16)), BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(20)));
        // SkiaSharp throws (ArgumentNullException for its missing codec) rather than return null for some
        // undecodable data: both mean the same to the user.
        SKBitmap? decoded;
        try
        {
            decoded = SKBitmap.Decode(bytes, new SKImageInfo(0, 0, SKColorType.Rgba8888, SKAlphaType.Unpremul)) ?? SKBitmap.Decode(bytes);
        }
        catch (ArgumentException)
        {
            decoded = null;
        }
        using var bitmap = decoded ?? throw new UserErrorException($"{path}: the PNG data cannot be decoded");
        CheckSize(path, bitmap.Width, bitmap.Height);
        var pixels = new byte[IdxReader.PixelsPerImage];
        for (int y = 0; y < IdxReader.Rows; y++)
        {
            for (int x = 0; x < IdxReader.Columns; x++)
            {
                SKColor c = bitmap.GetPixel(x, y);
                double luma = (0.299 * c.Red + 0.587 * c.Green + 0.114 * c.Blue) * c.Alpha / 255.0;
                pixels[y * IdxReader.Columns + x] = (byte)Math.Clamp(Math.Round(luma), 0, 255);
            }
        }
        return pixels;
    }

    private static byte[] ReadPgm(string path, byte[] bytes)
    {
        bool binary = bytes[1] == '5';
        int position = 2;
        int width = NextNumber(path, bytes, ref position);
        int height = NextNumber(path, bytes, ref position);
        int maxValue = NextNumber(path, bytes, ref position);
        if (maxValue is < 1 or > 65535)
        {
            throw new UserErrorException($"{path}: PGM maximum value {maxValue} is outside 1..65535");
        }
        CheckSize(path, width, height);
        var pixels = new byte[IdxReader.PixelsPerImage];
        if (binary)
        {
            position++; // exactly one whitespace byte separates the header from the raster
            int bytesPerSample = maxValue < 256 ? 1 : 2;
            if (bytes.Length - position < pixels.Length * bytesPerSample)
            {
                throw new UserErrorException($"{path}: truncated PGM: {pixels.Length * bytesPerSample} raster bytes expected, {Math.Max(0, bytes.Length - position)} present");
            }
            for (int i = 0; i < pixels.Length; i++)
            {
                int sample = bytesPerSample == 1 ? bytes[position + i] : bytes[position + 2 * i] << 8 | bytes[position + 2 * i + 1];
                pixels[i] = Scale(path, sample, maxValue);
            }
        }
        else
        {
            for (int i = 0; i < pixels.Length; i++)
            {
                pixels[i] = Scale(path, NextNumber(path, bytes, ref position), maxValue);
            }
        }
        return pixels;
    }

    private static byte Scale(string path, int sample, int maxValue) => sample <= maxValue
        ? (byte)Math.Round(sample * 255.0 / maxValue)
        : throw new UserErrorException($"{path}: PGM sample {sample} exceeds the maximum value {maxValue}");

    /// <summary>Skips whitespace and <c>#</c> comments, then reads a decimal number.</summary>
    private static int NextNumber(string path, byte[] bytes, ref int position)
    {
        while (position < bytes.Length && (char.IsWhiteSpace((char)bytes[position]) || bytes[position] == '#'))
        {
            if (bytes[position] == '#')
            {
                while (position < bytes.Length && bytes[position] != '\n')
                {
                    position++;
                }
            }
            else
            {
                position++;
            }
        }
        int start = position;
        while (position < bytes.Length && bytes[position] is >= (byte)'0' and <= (byte)'9')
        {
            position++;
        }
        if (position == start || position - start > 9)
        {
            throw new UserErrorException($"{path}: malformed or truncated PGM header or data at byte {start}");
        }
        return int.Parse(Encoding.ASCII.GetString(bytes, start, position - start), CultureInfo.InvariantCulture);
    }

    private static void CheckSize(string path, long width, long height)
    {
        if (width != IdxReader.Columns || height != IdxReader.Rows)
        {
            throw new UserErrorException($"{path}: the image is {width}×{height} pixels; the model takes {IdxReader.Columns}×{IdxReader.Rows} grayscale");
        }
    }
}
