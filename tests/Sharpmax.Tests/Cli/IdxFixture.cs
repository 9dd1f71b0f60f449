using System.Buffers.Binary;
using System.IO.Compression;
using Sharpmax.Cli.Data;

namespace Sharpmax.Tests.Cli;

/// <summary>Writes small synthetic IDX files (and broken variants) for the reader and CLI tests.</summary>
internal static class IdxFixture
{
    /// <summary>Deterministic pixels: image i has value (i·31 + p) mod 256 at pixel p.</summary>
    public static byte[] Pixels(int count)
    {
        var pixels = new byte[count * IdxReader.PixelsPerImage];
        for (int i = 0; i < pixels.Length; i++)
        {
            pixels[i] = (byte)((i / IdxReader.PixelsPerImage * 31 + i % IdxReader.PixelsPerImage) % 256);
        }
        return pixels;
    }

    public static byte[] Labels(int count) => Enumerable.Range(0, count).Select(i => (byte)(i % 10)).ToArray();

    public static byte[] ImageFile(byte[] pixels, int? count = null, int magic = IdxReader.ImagesMagic, int rows = 28, int columns = 28)
    {
        var bytes = new byte[16 + pixels.Length];
        BinaryPrimitives.WriteInt32BigEndian(bytes, magic);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4), count ?? pixels.Length / IdxReader.PixelsPerImage);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(8), rows);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(12), columns);
        pixels.CopyTo(bytes, 16);
        return bytes;
    }

    public static byte[] LabelFile(byte[] labels, int? count = null, int magic = IdxReader.LabelsMagic)
    {
        var bytes = new byte[8 + labels.Length];
        BinaryPrimitives.WriteInt32BigEndian(bytes, magic);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4), count ?? labels.Length);
        labels.CopyTo(bytes, 8);
        return bytes;
    }

    public static byte[] Gzip(byte[] data)
    {
        using var memory = new MemoryStream();
        using (var gzip = new GZipStream(memory, CompressionLevel.Fastest, leaveOpen: true))
        {
            gzip.Write(data);
        }
        return memory.ToArray();
    }

    /// <summary>Writes the four files of a small data set (train and test of the given sizes) into <paramref name="directory"/>.</summary>
    public static void WriteDataSet(string directory, int train = 40, int test = 20, bool gzip = true)
    {
        Directory.CreateDirectory(directory);
        Write(directory, FashionMnistFiles.TrainImagesName, ImageFile(Pixels(train)), gzip);
        Write(directory, FashionMnistFiles.TrainLabelsName, LabelFile(Labels(train)), gzip);
        Write(directory, FashionMnistFiles.TestImagesName, ImageFile(Pixels(test)), gzip);
        Write(directory, FashionMnistFiles.TestLabelsName, LabelFile(Labels(test)), gzip);
    }

    public static string Write(string directory, string name, byte[] content, bool gzip)
    {
        string path = Path.Combine(directory, gzip ? name + ".gz" : name);
        File.WriteAllBytes(path, gzip ? Gzip(content) : content);
        return path;
    }
}
