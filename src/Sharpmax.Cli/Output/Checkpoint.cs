using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Security.Cryptography;

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
    /// <exception cref="CheckpointFormatException">Missing, not a checkpoint, unsupported version, truncated, or the checksum does not match.</exception>
    public static Checkpoint Load(string path)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CheckpointFormatException($"{path}: cannot read the checkpoint: {e.Message}", e);
        }
        return FromBytes(bytes, path);
    }

    public static Checkpoint FromBytes(ReadOnlySpan<byte> bytes, string path)
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
        if (features == 0 || classes == 0 || (long)features * classes + classes > MaxParameters)
        {
            throw new CheckpointFormatException($"{path}: implausible shape K={features}, C={classes}");
        }
        long expected = HeaderBytes + 4L * ((long)features * classes + classes) + HashBytes;
        if (bytes.Length < expected)
        {
            throw new CheckpointFormatException($"{path}: truncated: {bytes.Length} bytes, a K={features}, C={classes} checkpoint has {expected}");
        }
        if (bytes.Length > expected)
        {
            throw new CheckpointFormatException($"{path}: {bytes.Length - expected} unexpected bytes after the end of a K={features}, C={classes} checkpoint");
        }
        int payload = (int)expected - HashBytes;
        Span<byte> hash = stackalloc byte[HashBytes];
        SHA256.HashData(bytes[..payload], hash);
        if (!hash.SequenceEqual(bytes[payload..]))
        {
            throw new CheckpointFormatException($"{path}: checksum mismatch: the file is corrupt (SHA-256 of its content differs from the one stored in it)");
        }
        var weights = new float[features * classes];
        var bias = new float[classes];
        ReadFloats(bytes[HeaderBytes..], weights);
        ReadFloats(bytes[(HeaderBytes + 4 * weights.Length)..], bias);
        return new Checkpoint((int)features, (int)classes, weights, bias)
        {
            Epoch = (int)BinaryPrimitives.ReadUInt32LittleEndian(bytes[20..]),
            Seed = BinaryPrimitives.ReadUInt64LittleEndian(bytes[24..]),
            TrainLoss = BinaryPrimitives.ReadDoubleLittleEndian(bytes[32..]),
            TestLoss = BinaryPrimitives.ReadDoubleLittleEndian(bytes[40..]),
            TestAccuracy = BinaryPrimitives.ReadDoubleLittleEndian(bytes[48..]),
        };
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
