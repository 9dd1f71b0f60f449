using System.Buffers.Binary;
using static System.FormattableString;

namespace Sharpmax.Cli.Output;

/// <summary>
/// The byte layout of both checkpoint versions (docs/checkpoint-format.md): where the header ends, what shape it
/// declares and how long the file must then be, checked so that no header, however damaged, makes the reader
/// allocate more than the bounds below or overflow while computing them.
/// </summary>
internal static class CheckpointLayout
{
    /// <summary>Softmax regression: one layer, K and C in the fixed header.</summary>
    public const int SingleLayerVersion = 1;

    /// <summary>A layer list: the fixed header, then the hidden layers' sizes.</summary>
    public const int LayerListVersion = 2;

    /// <summary>The fixed part of the header, the same fields at the same offsets in both versions.</summary>
    public const int FixedHeaderBytes = 56;

    public const int HashBytes = 32;

    /// <summary>Far above any model this tool trains; bounds the allocation a corrupt header can ask for.</summary>
    public const long MaxParameters = 1L << 28;

    /// <summary>Far above the CLI's limit on --hidden; bounds the header a corrupt count can ask for.</summary>
    public const int MaxHiddenLayers = 64;

    public static ReadOnlySpan<byte> Magic => "SMAXCKPT"u8;

    /// <summary>
    /// The header's full length as far as <paramref name="prefix"/> tells it: 56 for version 1; for version 2,
    /// 60 until the hidden-layer count is known, then 60 + 4·H. Call again with more bytes while the result
    /// is longer than the prefix.
    /// </summary>
    /// <exception cref="CheckpointFormatException">Not a checkpoint, a truncated fixed header, an unknown version, or
    /// an implausible hidden-layer count.</exception>
    public static int HeaderLength(ReadOnlySpan<byte> prefix, string path)
    {
        if (prefix.Length < Magic.Length || !prefix[..Magic.Length].SequenceEqual(Magic))
        {
            throw new CheckpointFormatException($"{path}: not a Sharpmax checkpoint (the file does not start with \"SMAXCKPT\")");
        }
        if (prefix.Length < FixedHeaderBytes)
        {
            throw new CheckpointFormatException($"{path}: truncated: {prefix.Length} bytes, shorter than the {FixedHeaderBytes}-byte header");
        }
        uint version = BinaryPrimitives.ReadUInt32LittleEndian(prefix[8..]);
        if (version == SingleLayerVersion)
        {
            return FixedHeaderBytes;
        }
        if (version != LayerListVersion)
        {
            throw new CheckpointFormatException(
                $"{path}: checkpoint format version {version} is not supported (this build reads versions {SingleLayerVersion} and {LayerListVersion})");
        }
        if (prefix.Length < FixedHeaderBytes + 4)
        {
            return FixedHeaderBytes + 4;
        }
        uint hidden = BinaryPrimitives.ReadUInt32LittleEndian(prefix[FixedHeaderBytes..]);
        if (hidden > MaxHiddenLayers)
        {
            throw new CheckpointFormatException($"{path}: implausible hidden-layer count {hidden} (at most {MaxHiddenLayers})");
        }
        return FixedHeaderBytes + 4 + 4 * (int)hidden;
    }

    /// <summary>The whole header's layer sizes, input to output, as u32 values straight from the file.</summary>
    /// <param name="header">At least <see cref="HeaderLength"/> bytes.</param>
    public static uint[] Sizes(ReadOnlySpan<byte> header)
    {
        uint features = BinaryPrimitives.ReadUInt32LittleEndian(header[12..]);
        uint classes = BinaryPrimitives.ReadUInt32LittleEndian(header[16..]);
        if (BinaryPrimitives.ReadUInt32LittleEndian(header[8..]) == SingleLayerVersion)
        {
            return [features, classes];
        }
        int hidden = (int)BinaryPrimitives.ReadUInt32LittleEndian(header[FixedHeaderBytes..]);
        var sizes = new uint[hidden + 2];
        sizes[0] = features;
        for (int i = 0; i < hidden; i++)
        {
            sizes[i + 1] = BinaryPrimitives.ReadUInt32LittleEndian(header[(FixedHeaderBytes + 4 + 4 * i)..]);
        }
        sizes[^1] = classes;
        return sizes;
    }

    /// <summary>Checks the sizes and returns the length the file must have: header, parameters, hash.</summary>
    /// <exception cref="CheckpointFormatException">A size of zero, or more than <see cref="MaxParameters"/> in all.</exception>
    public static long ExpectedLength(uint[] sizes, int headerLength, string path)
    {
        // In UInt128: up to 65 products of two u32 values cannot overflow it, so the bound check itself is exact.
        UInt128 parameters = 0;
        bool zero = false;
        for (int l = 0; l + 1 < sizes.Length; l++)
        {
            zero |= sizes[l] == 0 || sizes[l + 1] == 0;
            parameters += (UInt128)sizes[l] * sizes[l + 1] + sizes[l + 1];
        }
        if (zero || parameters > MaxParameters)
        {
            throw new CheckpointFormatException($"{path}: implausible shape {Describe(sizes)}");
        }
        return headerLength + 4L * (long)parameters + HashBytes;
    }

    /// <summary>"K=784, C=10" for softmax regression; "K=784, hidden 256, 128, C=10" for an MLP.</summary>
    public static string Describe(IReadOnlyList<uint> sizes) => sizes.Count == 2
        ? Invariant($"K={sizes[0]}, C={sizes[1]}")
        : Invariant($"K={sizes[0]}, hidden {string.Join(", ", sizes.Skip(1).Take(sizes.Count - 2))}, C={sizes[^1]}");

    public static CheckpointFormatException LengthMismatch(string path, long length, long expected, uint[] sizes) => length < expected
        ? new CheckpointFormatException($"{path}: truncated: {length} bytes, a {Describe(sizes)} checkpoint has {expected}")
        : new CheckpointFormatException($"{path}: {length - expected} unexpected bytes after the end of a {Describe(sizes)} checkpoint");
}
