using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Sharpmax.Cli.Data;

namespace Sharpmax.Cli.Output;

/// <summary>
/// A trained softmax-regression model (<c>logits = x·W + b</c>) and where it came from, stored as <c>model.ckpt</c>.
/// </summary>
/// <remarks>
/// Format, version 1, all little-endian (documented in docs/checkpoint-format.md):
/// <code>
/// offset  size     field
///   0      8       magic, ASCII "SMAXCKPT"
///   8      4       u32 version = 1
///  12      4       u32 K, input features (784)
///  16      4       u32 C, classes (10)
///  20      4       u32 epoch, epochs trained
///  24      8       u64 seed
///  32      8       f64 train loss of the last epoch
///  40      8       f64 test loss
///  48      8       f64 test accuracy, 0..1
///  56      4·K·C   f32 W, row-major K×C (W[k, c] at 56 + 4·(k·C + c))
///  ..      4·C     f32 b
///  ..      32      SHA-256 of every byte before it
/// </code>
/// </remarks>
public sealed class Checkpoint
{
    public const int Version = 1;
    public const int HeaderBytes = 56;
    public const int HashBytes = 32;
    private static ReadOnlySpan<byte> Magic => "SMAXCKPT"u8;

    // Far above any softmax regression this tool trains; bounds the allocation a corrupt header can ask for.
    private const long MaxParameters = 1L << 28;

    public Checkpoint(int features, int classes, float[] weights, float[] bias)
    {
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentNullException.ThrowIfNull(bias);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(features);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(classes);
        if (weights.LongLength != (long)features * classes || bias.Length != classes)
        {
            throw new ArgumentException($"W has {weights.Length} values and b {bias.Length}; K={features}, C={classes} needs {(long)features * classes} and {classes}");
        }
        Features = features;
        Classes = classes;
        Weights = weights;
        Bias = bias;
    }

    /// <summary>K, the input features.</summary>
    public int Features { get; }
    /// <summary>C, the classes.</summary>
    public int Classes { get; }
    /// <summary>W, row-major K×C.</summary>
    public float[] Weights { get; }
    /// <summary>b, C values.</summary>
    public float[] Bias { get; }
    public int Epoch { get; init; }
    public ulong Seed { get; init; }
    public double TrainLoss { get; init; } = double.NaN;
    public double TestLoss { get; init; } = double.NaN;
    public double TestAccuracy { get; init; } = double.NaN;

    private long ByteLength => HeaderBytes + 4L * (Weights.LongLength + Bias.Length) + HashBytes;

    /// <summary>Writes atomically: a reader or a crash never sees a half-written file, and a failed write keeps the old one.</summary>
    public void Save(string path) => AtomicFile.Write(path, stream => stream.Write(ToBytes()));

    public byte[] ToBytes()
    {
        var bytes = new byte[ByteLength];
        var span = bytes.AsSpan();
        Magic.CopyTo(span);
        BinaryPrimitives.WriteUInt32LittleEndian(span[8..], Version);
        BinaryPrimitives.WriteUInt32LittleEndian(span[12..], (uint)Features);
        BinaryPrimitives.WriteUInt32LittleEndian(span[16..], (uint)Classes);
        BinaryPrimitives.WriteUInt32LittleEndian(span[20..], (uint)Epoch);
        BinaryPrimitives.WriteUInt64LittleEndian(span[24..], Seed);
        BinaryPrimitives.WriteDoubleLittleEndian(span[32..], TrainLoss);
        BinaryPrimitives.WriteDoubleLittleEndian(span[40..], TestLoss);
        BinaryPrimitives.WriteDoubleLittleEndian(span[48..], TestAccuracy);
        int offset = HeaderBytes;
        offset += WriteFloats(span[offset..], Weights);
        offset += WriteFloats(span[offset..], Bias);
        SHA256.HashData(span[..offset], span[offset..]);
        return bytes;
    }

    /// <summary>Reads and validates a checkpoint.</summary>
    /// <exception cref="CheckpointFormatException">Missing, not a checkpoint, unsupported version, truncated, the checksum
    /// does not match, or a parameter is NaN or infinite.</exception>
    public static Checkpoint Load(string path)
    {
        byte[] bytes;
        try
        {
            using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
            // The header says how long the file must be: read no more than that (plus one byte to see extra
            // data), so neither a huge file nor a lying header decides what is allocated.
            byte[] header = BoundedRead.Read(file, HeaderBytes);
            long expected = ExpectedLength(header, path);
            if (file.CanSeek && file.Length != expected)
            {
                throw LengthMismatch(path, file.Length, header);
            }
            bytes = BoundedRead.Read(file, expected + 1 - header.Length, header);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new CheckpointFormatException($"{path}: cannot read the checkpoint: {e.Message}", e);
        }
        return FromBytes(bytes, path);
    }

    public static Checkpoint FromBytes(ReadOnlySpan<byte> bytes, string path)
    {
        long expected = ExpectedLength(bytes, path);
        if (bytes.Length != expected)
        {
            throw LengthMismatch(path, bytes.Length, bytes);
        }
        uint features = BinaryPrimitives.ReadUInt32LittleEndian(bytes[12..]);
        uint classes = BinaryPrimitives.ReadUInt32LittleEndian(bytes[16..]);
        int payload = (int)expected - HashBytes;
        Span<byte> hash = stackalloc byte[HashBytes];
        SHA256.HashData(bytes[..payload], hash);
        if (!hash.SequenceEqual(bytes[payload..]))
        {
            throw new CheckpointFormatException($"{path}: checksum mismatch: the file is corrupt (SHA-256 of its content differs from the one stored in it)");
        }
        uint epoch = BinaryPrimitives.ReadUInt32LittleEndian(bytes[20..]);
        if (epoch > int.MaxValue)
        {
            throw new CheckpointFormatException($"{path}: implausible epoch count {epoch}");
        }
        var weights = new float[features * classes];
        var bias = new float[classes];
        ReadFloats(bytes[HeaderBytes..], weights);
        ReadFloats(bytes[(HeaderBytes + 4 * weights.Length)..], bias);
        CheckFinite(path, weights, bias, (int)classes);
        return new Checkpoint((int)features, (int)classes, weights, bias)
        {
            Epoch = (int)epoch,
            Seed = BinaryPrimitives.ReadUInt64LittleEndian(bytes[24..]),
            TrainLoss = BinaryPrimitives.ReadDoubleLittleEndian(bytes[32..]),
            TestLoss = BinaryPrimitives.ReadDoubleLittleEndian(bytes[40..]),
            TestAccuracy = BinaryPrimitives.ReadDoubleLittleEndian(bytes[48..]),
        };
    }

    /// <summary>Checks magic, version and shape, and returns the length the file must have.</summary>
    private static long ExpectedLength(ReadOnlySpan<byte> bytes, string path)
    {
        if (bytes.Length < Magic.Length || !bytes[..Magic.Length].SequenceEqual(Magic))
        {
            throw new CheckpointFormatException($"{path}: not a Sharpmax checkpoint (the file does not start with \"SMAXCKPT\")");
        }
        if (bytes.Length < HeaderBytes)
        {
            throw new CheckpointFormatException($"{path}: truncated: {bytes.Length} bytes, shorter than the {HeaderBytes}-byte header");
        }
        uint version = BinaryPrimitives.ReadUInt32LittleEndian(bytes[8..]);
        if (version != Version)
        {
            throw new CheckpointFormatException($"{path}: checkpoint format version {version} is not supported (this build reads version {Version})");
        }
        uint features = BinaryPrimitives.ReadUInt32LittleEndian(bytes[12..]);
        uint classes = BinaryPrimitives.ReadUInt32LittleEndian(bytes[16..]);
        // In ulong: K·C + C of two u32 values is below 2^64, so the bound check itself cannot overflow.
        if (features == 0 || classes == 0 || (ulong)features * classes + classes > MaxParameters)
        {
            throw new CheckpointFormatException($"{path}: implausible shape K={features}, C={classes}");
        }
        return HeaderBytes + 4L * ((long)features * classes + classes) + HashBytes;
    }

    private static CheckpointFormatException LengthMismatch(string path, long length, ReadOnlySpan<byte> header)
    {
        uint features = BinaryPrimitives.ReadUInt32LittleEndian(header[12..]);
        uint classes = BinaryPrimitives.ReadUInt32LittleEndian(header[16..]);
        long expected = ExpectedLength(header, path);
        return length < expected
            ? new CheckpointFormatException($"{path}: truncated: {length} bytes, a K={features}, C={classes} checkpoint has {expected}")
            : new CheckpointFormatException($"{path}: {length - expected} unexpected bytes after the end of a K={features}, C={classes} checkpoint");
    }

    /// <summary>A NaN or infinite parameter makes every prediction NaN: refuse it rather than report garbage.</summary>
    private static void CheckFinite(string path, float[] weights, float[] bias, int classes)
    {
        int w = Array.FindIndex(weights, v => !float.IsFinite(v));
        if (w >= 0)
        {
            throw new CheckpointFormatException(FormattableString.Invariant(
                $"{path}: W[{w / classes}, {w % classes}] is {weights[w]}: the checkpoint holds non-finite weights (a diverged or damaged model)"));
        }
        int b = Array.FindIndex(bias, v => !float.IsFinite(v));
        if (b >= 0)
        {
            throw new CheckpointFormatException(FormattableString.Invariant(
                $"{path}: b[{b}] is {bias[b]}: the checkpoint holds a non-finite bias (a diverged or damaged model)"));
        }
    }

    private static int WriteFloats(Span<byte> destination, float[] values)
    {
        for (int i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(destination[(4 * i)..], values[i]);
        }
        return 4 * values.Length;
    }

    private static void ReadFloats(ReadOnlySpan<byte> source, float[] values)
    {
        if (BitConverter.IsLittleEndian)
        {
            MemoryMarshal.Cast<byte, float>(source[..(4 * values.Length)]).CopyTo(values);
            return;
        }
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = BinaryPrimitives.ReadSingleLittleEndian(source[(4 * i)..]);
        }
    }
}
