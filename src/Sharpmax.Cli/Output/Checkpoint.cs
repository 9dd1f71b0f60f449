using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Sharpmax.Cli.Data;
using static Sharpmax.Cli.Output.CheckpointLayout;

namespace Sharpmax.Cli.Output;

/// <summary>
/// A trained model and where it came from, stored as <c>model.ckpt</c>: softmax regression
/// (<c>logits = x·W + b</c>, one layer) or an MLP (linear layers with ReLU between them).
/// </summary>
/// <remarks>
/// Two versions, all little-endian (documented in docs/checkpoint-format.md). Both start with the same 56 bytes:
/// <code>
/// offset  size     field
///   0      8       magic, ASCII "SMAXCKPT"
///   8      4       u32 version: 1 (one layer) or 2 (a layer list)
///  12      4       u32 K, input features (784)
///  16      4       u32 C, classes (10)
///  20      4       u32 epoch, epochs trained
///  24      8       u64 seed
///  32      8       f64 train loss of the last epoch
///  40      8       f64 test loss
///  48      8       f64 test accuracy, 0..1
/// </code>
/// Version 1 continues with W (row-major K×C), b (C) and the SHA-256 of every byte before it. Version 2 continues
/// with u32 H, the hidden layers, and their H u32 sizes; then, for each layer from the input, its W (row-major
/// inputs×outputs) and b; then the SHA-256. The writer uses version 1 for one layer, so a softmax-regression
/// checkpoint is byte for byte what earlier builds wrote and read, and version 2 for an MLP.
/// </remarks>
public sealed class Checkpoint
{
    /// <summary>The newest version this build writes and reads.</summary>
    public const int Version = LayerListVersion;
    public const int HeaderBytes = FixedHeaderBytes;

    private readonly CheckpointLayer[] _layers;

    /// <summary>A softmax-regression model: one layer, K inputs, C classes.</summary>
    public Checkpoint(int features, int classes, float[] weights, float[] bias)
        : this([new CheckpointLayer(features, classes, weights, bias)])
    {
    }

    /// <summary>A model of one or more layers, from the input to the output.</summary>
    /// <exception cref="ArgumentException">No layer, or a layer whose inputs differ from the outputs of the one before.</exception>
    public Checkpoint(IReadOnlyList<CheckpointLayer> layers)
    {
        ArgumentNullException.ThrowIfNull(layers);
        if (layers.Count == 0)
        {
            throw new ArgumentException("A checkpoint needs at least one layer.", nameof(layers));
        }
        for (int l = 1; l < layers.Count; l++)
        {
            if (layers[l].Inputs != layers[l - 1].Outputs)
            {
                throw new ArgumentException($"Layer {l + 1} takes {layers[l].Inputs} inputs but layer {l} gives {layers[l - 1].Outputs}.", nameof(layers));
            }
        }
        _layers = [.. layers];
    }

    /// <summary>The layers from the input to the output; the last gives the logits.</summary>
    public IReadOnlyList<CheckpointLayer> Layers => _layers;

    /// <summary>Features from the input to the output: [784, 10] for softmax regression, [784, 256, 10] for d2l's MLP.</summary>
    public int[] Sizes => [_layers[0].Inputs, .. _layers.Select(l => l.Outputs)];

    /// <summary>K, the input features.</summary>
    public int Features => _layers[0].Inputs;
    /// <summary>C, the classes.</summary>
    public int Classes => _layers[^1].Outputs;
    /// <summary>W of a one-layer model (softmax regression), row-major K×C.</summary>
    /// <exception cref="InvalidOperationException">The model has hidden layers: use <see cref="Layers"/>.</exception>
    public float[] Weights => SingleLayer.Weights;
    /// <summary>b of a one-layer model, C values.</summary>
    /// <exception cref="InvalidOperationException">The model has hidden layers: use <see cref="Layers"/>.</exception>
    public float[] Bias => SingleLayer.Bias;
    public int Epoch { get; init; }
    public ulong Seed { get; init; }
    public double TrainLoss { get; init; } = double.NaN;
    public double TestLoss { get; init; } = double.NaN;
    public double TestAccuracy { get; init; } = double.NaN;

    /// <summary>The version <see cref="ToBytes"/> writes: 1 for one layer, 2 for more.</summary>
    public int FormatVersion => _layers.Length == 1 ? SingleLayerVersion : LayerListVersion;

    private CheckpointLayer SingleLayer => _layers.Length == 1
        ? _layers[0]
        : throw new InvalidOperationException($"The model has {_layers.Length} layers; read their parameters from Layers.");

    private int HeaderLength => FormatVersion == SingleLayerVersion ? FixedHeaderBytes : FixedHeaderBytes + 4 + 4 * (_layers.Length - 1);

    /// <summary>Writes atomically: a reader or a crash never sees a half-written file, and a failed write keeps the old one.</summary>
    public void Save(string path) => AtomicFile.Write(path, stream => stream.Write(ToBytes()));

    public byte[] ToBytes()
    {
        long parameters = _layers.Sum(l => l.Weights.LongLength + l.Bias.Length);
        var bytes = new byte[HeaderLength + 4 * parameters + HashBytes];
        var span = bytes.AsSpan();
        Magic.CopyTo(span);
        BinaryPrimitives.WriteUInt32LittleEndian(span[8..], (uint)FormatVersion);
        BinaryPrimitives.WriteUInt32LittleEndian(span[12..], (uint)Features);
        BinaryPrimitives.WriteUInt32LittleEndian(span[16..], (uint)Classes);
        BinaryPrimitives.WriteUInt32LittleEndian(span[20..], (uint)Epoch);
        BinaryPrimitives.WriteUInt64LittleEndian(span[24..], Seed);
        BinaryPrimitives.WriteDoubleLittleEndian(span[32..], TrainLoss);
        BinaryPrimitives.WriteDoubleLittleEndian(span[40..], TestLoss);
        BinaryPrimitives.WriteDoubleLittleEndian(span[48..], TestAccuracy);
        if (FormatVersion == LayerListVersion)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(span[FixedHeaderBytes..], (uint)(_layers.Length - 1));
            for (int l = 0; l + 1 < _layers.Length; l++)
            {
                BinaryPrimitives.WriteUInt32LittleEndian(span[(FixedHeaderBytes + 4 + 4 * l)..], (uint)_layers[l].Outputs);
            }
        }
        int offset = HeaderLength;
        foreach (var layer in _layers)
        {
            offset += WriteFloats(span[offset..], layer.Weights);
            offset += WriteFloats(span[offset..], layer.Bias);
        }
        SHA256.HashData(span[..offset], span[offset..]);
        return bytes;
    }

    /// <summary>Reads and validates a checkpoint of either version.</summary>
    /// <exception cref="CheckpointFormatException">Missing, not a checkpoint, unsupported version, truncated, an implausible
    /// shape, the checksum does not match, or a parameter is NaN or infinite.</exception>
    public static Checkpoint Load(string path)
    {
        byte[] bytes;
        try
        {
            using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
            // The header says how long the file must be: read no more than that (plus one byte to see extra
            // data), so neither a huge file nor a lying header decides what is allocated. A version 2 header
            // grows in two bounded steps: its hidden-layer count, then that many sizes.
            byte[] header = BoundedRead.Read(file, FixedHeaderBytes);
            for (int need = HeaderLength(header, path); need > header.Length; need = HeaderLength(header, path))
            {
                header = BoundedRead.Read(file, need - header.Length, header);
                if (header.Length < need)
                {
                    throw new CheckpointFormatException($"{path}: truncated: {header.Length} bytes, shorter than its {need}-byte header");
                }
            }
            uint[] sizes = CheckpointLayout.Sizes(header);
            long expected = ExpectedLength(sizes, header.Length, path);
            if (file.CanSeek && file.Length != expected)
            {
                throw LengthMismatch(path, file.Length, expected, sizes);
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
        int headerLength = HeaderLength(bytes, path);
        if (bytes.Length < headerLength)
        {
            throw new CheckpointFormatException($"{path}: truncated: {bytes.Length} bytes, shorter than its {headerLength}-byte header");
        }
        uint[] sizes = CheckpointLayout.Sizes(bytes);
        long expected = ExpectedLength(sizes, headerLength, path);
        if (bytes.Length != expected)
        {
            throw LengthMismatch(path, bytes.Length, expected, sizes);
        }
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
        var layers = new CheckpointLayer[sizes.Length - 1];
        int offset = headerLength;
        for (int l = 0; l < layers.Length; l++)
        {
            int inputs = (int)sizes[l], outputs = (int)sizes[l + 1];
            var weights = new float[(long)inputs * outputs];
            var bias = new float[outputs];
            offset += ReadFloats(bytes[offset..], weights);
            offset += ReadFloats(bytes[offset..], bias);
            // Layers are numbered from 1 in messages; a one-layer model's W and b need no number.
            CheckFinite(path, layers.Length == 1 ? "" : FormattableString.Invariant($"layer {l + 1} "), weights, bias, outputs);
            layers[l] = new CheckpointLayer(inputs, outputs, weights, bias);
        }
        return new Checkpoint(layers)
        {
            Epoch = (int)epoch,
            Seed = BinaryPrimitives.ReadUInt64LittleEndian(bytes[24..]),
            TrainLoss = BinaryPrimitives.ReadDoubleLittleEndian(bytes[32..]),
            TestLoss = BinaryPrimitives.ReadDoubleLittleEndian(bytes[40..]),
            TestAccuracy = BinaryPrimitives.ReadDoubleLittleEndian(bytes[48..]),
        };
    }

    /// <summary>A NaN or infinite parameter makes every prediction NaN: refuse it rather than report garbage.</summary>
    private static void CheckFinite(string path, string layer, float[] weights, float[] bias, int outputs)
    {
        int w = Array.FindIndex(weights, v => !float.IsFinite(v));
        if (w >= 0)
        {
            throw new CheckpointFormatException(FormattableString.Invariant(
                $"{path}: {layer}W[{w / outputs}, {w % outputs}] is {weights[w]}: the checkpoint holds non-finite weights (a diverged or damaged model)"));
        }
        int b = Array.FindIndex(bias, v => !float.IsFinite(v));
        if (b >= 0)
        {
            throw new CheckpointFormatException(FormattableString.Invariant(
                $"{path}: {layer}b[{b}] is {bias[b]}: the checkpoint holds a non-finite bias (a diverged or damaged model)"));
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

    private static int ReadFloats(ReadOnlySpan<byte> source, float[] values)
    {
        if (BitConverter.IsLittleEndian)
        {
            MemoryMarshal.Cast<byte, float>(source[..(4 * values.Length)]).CopyTo(values);
            return 4 * values.Length;
        }
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = BinaryPrimitives.ReadSingleLittleEndian(source[(4 * i)..]);
        }
        return 4 * values.Length;
    }
}
