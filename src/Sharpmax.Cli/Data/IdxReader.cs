using System.Buffers.Binary;
using System.IO.Compression;

namespace Sharpmax.Cli.Data;

/// <summary>
/// Reads the IDX files of (Fashion-)MNIST, gzip-compressed or raw (told apart by the gzip magic, not
/// the file name). Every check failure throws <see cref="IdxFormatException"/> naming the file.
/// </summary>
/// <remarks>
/// Layout (big-endian): images = magic 0x00000803, count, rows, columns, then count·rows·columns
/// pixel bytes; labels = magic 0x00000801, count, then count label bytes.
/// </remarks>
public static class IdxReader
{
    public const int ImagesMagic = 0x00000803;
    public const int LabelsMagic = 0x00000801;
    public const int Rows = 28;
    public const int Columns = 28;
    public const int PixelsPerImage = Rows * Columns;
    public const int ClassCount = 10;

    /// <summary>Reads an image file: returns count·784 bytes, image after image, row-major.</summary>
    public static byte[] ReadImages(string path)
    {
        using var stream = OpenMaybeGzip(path);
        Span<byte> header = stackalloc byte[16];
        ReadHeader(stream, path, header, "image");
        int magic = BinaryPrimitives.ReadInt32BigEndian(header);
        if (magic != ImagesMagic)
        {
            throw new IdxFormatException(path, magic == LabelsMagic
                ? "this is an IDX label file (magic 0x00000801), expected an image file (magic 0x00000803)"
                : $"not an IDX image file: magic number 0x{magic:X8}, expected 0x{ImagesMagic:X8}");
        }
        uint count = BinaryPrimitives.ReadUInt32BigEndian(header[4..]);
        uint rows = BinaryPrimitives.ReadUInt32BigEndian(header[8..]);
        uint columns = BinaryPrimitives.ReadUInt32BigEndian(header[12..]);
        if (rows != Rows || columns != Columns)
        {
            throw new IdxFormatException(path, $"images are {rows}×{columns} pixels, expected {Rows}×{Columns}");
        }
        CheckCount(path, count, PixelsPerImage, "images");
        return ReadBody(stream, path, (long)count * PixelsPerImage, $"{count} images of {Rows}×{Columns}");
    }

    /// <summary>Reads a label file: one byte per example, each in 0..9.</summary>
    public static byte[] ReadLabels(string path)
    {
        using var stream = OpenMaybeGzip(path);
        Span<byte> header = stackalloc byte[8];
        ReadHeader(stream, path, header, "label");
        int magic = BinaryPrimitives.ReadInt32BigEndian(header);
        if (magic != LabelsMagic)
        {
            throw new IdxFormatException(path, magic == ImagesMagic
                ? "this is an IDX image file (magic 0x00000803), expected a label file (magic 0x00000801)"
                : $"not an IDX label file: magic number 0x{magic:X8}, expected 0x{LabelsMagic:X8}");
        }
        uint count = BinaryPrimitives.ReadUInt32BigEndian(header[4..]);
        CheckCount(path, count, 1, "labels");
        byte[] labels = ReadBody(stream, path, count, $"{count} labels");
        int bad = Array.FindIndex(labels, label => label >= ClassCount);
        if (bad >= 0)
        {
            throw new IdxFormatException(path, $"label {labels[bad]} at index {bad} is outside 0..{ClassCount - 1}");
        }
        return labels;
    }

    private static Stream OpenMaybeGzip(string path)
    {
        FileStream file;
        try
        {
            file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            throw new IdxFormatException(path, Directory.Exists(path) ? "is a directory, not an IDX file" : $"cannot open: {e.Message}", e);
        }
        bool gzip = file.Length >= 2 && file.ReadByte() == 0x1F && file.ReadByte() == 0x8B;
        file.Position = 0;
        return gzip ? new GZipStream(file, CompressionMode.Decompress) : file;
    }

    private static void ReadHeader(Stream stream, string path, Span<byte> header, string kind)
    {
        int got = ReadFully(stream, path, header);
        if (got < header.Length)
        {
            throw new IdxFormatException(path,
                $"truncated: {got} bytes, shorter than the {header.Length}-byte IDX {kind} header");
        }
    }

    /// <summary>
    /// Reads the <paramref name="length"/> data bytes the header announces. A raw file's length is checked before
    /// anything is allocated; a gzip stream's is unknown up front, so its bytes are kept as they arrive.
    /// </summary>
    private static byte[] ReadBody(Stream stream, string path, long length, string what)
    {
        if (stream is FileStream raw && raw.CanSeek)
        {
            long follow = raw.Length - raw.Position;
            if (follow < length)
            {
                throw Truncated(path, length, follow, what);
            }
            if (follow > length)
            {
                throw Extra(path, what);
            }
        }
        byte[] body;
        try
        {
            body = BoundedRead.Read(stream, length + 1);
        }
        catch (Exception e) when (e is InvalidDataException or IOException)
        {
            throw ReadError(path, e);
        }
        if (body.Length < length)
        {
            throw Truncated(path, length, body.Length, what);
        }
        if (body.Length > length)
        {
            throw Extra(path, what);
        }
        return body;
    }

    private static IdxFormatException Truncated(string path, long length, long got, string what) => new(path,
        $"truncated: the header announces {what} ({length} bytes of data) but only {got} bytes follow");

    private static IdxFormatException Extra(string path, string what) => new(path, $"has extra bytes after the {what} its header announces");

    // .NET's own text for a bad gzip stream names causes that are usually wrong ("unsupported compression
    // method" for a damaged file), so the message says only what is known.
    private static IdxFormatException ReadError(string path, Exception e) => e is InvalidDataException
        ? new(path, "corrupt gzip data: the file does not decompress (damaged or truncated download?)", e)
        : new(path, $"read error: {e.Message}", e);

    private static void CheckCount(string path, uint count, int bytesPerItem, string items)
    {
        if (count == 0)
        {
            throw new IdxFormatException(path, $"the header announces 0 {items}");
        }
        if (count > Array.MaxLength / bytesPerItem)
        {
            throw new IdxFormatException(path, $"the header announces {count} {items}, more than any real data set");
        }
    }

    /// <summary>Reads until <paramref name="buffer"/> is full or the stream ends; returns the bytes read.</summary>
    private static int ReadFully(Stream stream, string path, Span<byte> buffer)
    {
        try
        {
            int total = 0;
            while (total < buffer.Length)
            {
                int n = stream.Read(buffer[total..]);
                if (n == 0)
                {
                    break;
                }
                total += n;
            }
            return total;
        }
        catch (Exception e) when (e is InvalidDataException or IOException)
        {
            throw ReadError(path, e);
        }
    }
}
