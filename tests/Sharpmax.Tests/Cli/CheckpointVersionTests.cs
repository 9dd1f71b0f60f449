// Checkpoint versions: version 2 (the layer list) round-trips and has the documented layout; version 1 bytes built
// here by hand, independently of the writer, still load; and every header-bounded check of version 1 also holds
// for version 2 (truncation, implausible shapes including u32 overflow, checksum, non-finite weights, versions).
using System.Buffers.Binary;
using System.Security.Cryptography;
using NUnit.Framework;
using Sharpmax.Cli.Output;

namespace Sharpmax.Tests.Cli;

public class CheckpointVersionTests
{
    private static CheckpointLayer Layer(int inputs, int outputs, int seed)
    {
        var random = new Random(seed);
        return new CheckpointLayer(inputs, outputs,
            Enumerable.Range(0, inputs * outputs).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray(),
            Enumerable.Range(0, outputs).Select(i => i * 0.125f - 0.5f).ToArray());
    }

    // 784 → 16 → 8 → 10: 784·16 + 16 + 16·8 + 8 + 8·10 + 10 = 12 786 parameters.
    private static Checkpoint Mlp() => new([Layer(784, 16, 1), Layer(16, 8, 2), Layer(8, 10, 3)])
    {
        Epoch = 10,
        Seed = 987654321UL,
        TrainLoss = 0.3823,
        TestLoss = 0.4595,
        TestAccuracy = 0.8329,
    };

    private static readonly int[] s_mlpSizes = [784, 16, 8, 10];
    private static readonly int[] s_softmaxSizes = [784, 10];
    private static readonly int[] s_tinySizes = [3, 2];

    private const int MlpLength = 56 + 4 + 4 * 2 + 4 * 12786 + 32;

    [Test]
    public void A_version_2_checkpoint_round_trips_every_layer_bit_for_bit()
    {
        using var dir = new TempDirectory();
        var original = Mlp();
        original.Layers[1].Weights[3] = float.Epsilon; // a subnormal must survive too
        string path = dir.File("model.ckpt");

        original.Save(path);
        var loaded = Checkpoint.Load(path);

        Assert.That(loaded.FormatVersion, Is.EqualTo(2));
        Assert.That(loaded.Sizes, Is.EqualTo(s_mlpSizes));
        Assert.That((loaded.Features, loaded.Classes), Is.EqualTo((784, 10)));
        for (int l = 0; l < 3; l++)
        {
            Assert.That(loaded.Layers[l].Weights, Is.EqualTo(original.Layers[l].Weights), $"W{l + 1}");
            Assert.That(loaded.Layers[l].Bias, Is.EqualTo(original.Layers[l].Bias), $"b{l + 1}");
        }
        Assert.That((loaded.Epoch, loaded.Seed, loaded.TrainLoss, loaded.TestLoss, loaded.TestAccuracy),
            Is.EqualTo((original.Epoch, original.Seed, original.TrainLoss, original.TestLoss, original.TestAccuracy)));
        Assert.That(new FileInfo(path).Length, Is.EqualTo(MlpLength));
        Assert.That(() => loaded.Weights, Throws.InvalidOperationException, "an MLP has no single W");
    }

    [Test]
    public void The_version_2_layout_is_the_documented_one()
    {
        var model = Mlp();
        byte[] bytes = model.ToBytes();
        uint U32(int offset) => BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(offset));
        float F32(int offset) => BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(offset));
        Assert.That(System.Text.Encoding.ASCII.GetString(bytes, 0, 8), Is.EqualTo("SMAXCKPT"));
        Assert.That((U32(8), U32(12), U32(16), U32(20)), Is.EqualTo((2u, 784u, 10u, 10u)), "version, K, C, epoch: where version 1 has them");
        Assert.That(BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(24)), Is.EqualTo(987654321UL), "seed");
        Assert.That(BinaryPrimitives.ReadDoubleLittleEndian(bytes.AsSpan(48)), Is.EqualTo(0.8329), "test accuracy");
        Assert.That((U32(56), U32(60), U32(64)), Is.EqualTo((2u, 16u, 8u)), "H, then the hidden sizes");
        const int w1 = 68, b1 = w1 + 4 * 784 * 16, w2 = b1 + 4 * 16, b2 = w2 + 4 * 16 * 8, w3 = b2 + 4 * 8, b3 = w3 + 4 * 8 * 10;
        Assert.That(F32(w1 + 4 * (5 * 16 + 7)), Is.EqualTo(model.Layers[0].Weights[5 * 16 + 7]), "W1[5, 7], row-major 784×16");
        Assert.That(F32(b1 + 4 * 15), Is.EqualTo(model.Layers[0].Bias[15]), "b1[15] after W1");
        Assert.That(F32(w2 + 4 * (15 * 8 + 7)), Is.EqualTo(model.Layers[1].Weights[15 * 8 + 7]), "W2[15, 7]");
        Assert.That(F32(b2), Is.EqualTo(model.Layers[1].Bias[0]), "b2[0]");
        Assert.That(F32(w3 + 4 * (7 * 10 + 9)), Is.EqualTo(model.Layers[2].Weights[7 * 10 + 9]), "W3[7, 9]");
        Assert.That(F32(b3 + 4 * 9), Is.EqualTo(model.Layers[2].Bias[9]), "b3[9], the last parameter");
        Assert.That(bytes.AsSpan(b3 + 40).ToArray(), Is.EqualTo(SHA256.HashData(bytes.AsSpan(0, b3 + 40))), "SHA-256 of everything before it");
    }

    /// <summary>A version 1 file as earlier builds wrote it, laid out here from docs/checkpoint-format.md.</summary>
    private static byte[] HandBuiltVersion1(float[] w, float[] b, int k, int c)
    {
        var bytes = new byte[56 + 4 * (k * c + c) + 32];
        "SMAXCKPT"u8.CopyTo(bytes);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(8), 1);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(12), (uint)k);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(16), (uint)c);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(20), 7);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(24), 42);
        BinaryPrimitives.WriteDoubleLittleEndian(bytes.AsSpan(32), 0.5);
        BinaryPrimitives.WriteDoubleLittleEndian(bytes.AsSpan(40), 0.6);
        BinaryPrimitives.WriteDoubleLittleEndian(bytes.AsSpan(48), 0.8);
        for (int i = 0; i < w.Length; i++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(56 + 4 * i), w[i]);
        }
        for (int i = 0; i < b.Length; i++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(56 + 4 * (w.Length + i)), b[i]);
        }
        SHA256.HashData(bytes.AsSpan(0, bytes.Length - 32), bytes.AsSpan(bytes.Length - 32));
        return bytes;
    }

    [Test]
    public void An_old_version_1_checkpoint_still_loads_and_one_layer_is_still_written_as_version_1()
    {
        using var dir = new TempDirectory();
        var layer = Layer(784, 10, 4);
        byte[] old = HandBuiltVersion1(layer.Weights, layer.Bias, 784, 10);
        File.WriteAllBytes(dir.File("old.ckpt"), old);

        var loaded = Checkpoint.Load(dir.File("old.ckpt"));

        Assert.That((loaded.FormatVersion, loaded.Sizes), Is.EqualTo((1, s_softmaxSizes)));
        Assert.That(loaded.Weights, Is.EqualTo(layer.Weights));
        Assert.That(loaded.Bias, Is.EqualTo(layer.Bias));
        Assert.That((loaded.Epoch, loaded.Seed, loaded.TrainLoss, loaded.TestLoss, loaded.TestAccuracy), Is.EqualTo((7, 42UL, 0.5, 0.6, 0.8)));
        Assert.That(loaded.ToBytes(), Is.EqualTo(old), "softmax regression is written byte for byte as earlier builds wrote it");
    }

    [Test]
    public void A_version_2_file_with_no_hidden_layer_is_softmax_regression()
    {
        var layer = Layer(3, 2, 5);
        var bytes = new byte[60 + 4 * 8 + 32];
        "SMAXCKPT"u8.CopyTo(bytes);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(8), 2);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(12), 3);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(16), 2);
        // H = 0 at offset 56: the parameters start at 60.
        for (int i = 0; i < 6; i++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(60 + 4 * i), layer.Weights[i]);
        }
        BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(84), layer.Bias[0]);
        BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(88), layer.Bias[1]);
        SHA256.HashData(bytes.AsSpan(0, 92), bytes.AsSpan(92));

        var loaded = Checkpoint.FromBytes(bytes, "m.ckpt");

        Assert.That(loaded.Sizes, Is.EqualTo(s_tinySizes));
        Assert.That(loaded.Weights, Is.EqualTo(layer.Weights));
        Assert.That(loaded.Bias, Is.EqualTo(layer.Bias));
    }

    /// <summary>The MLP checkpoint's bytes with <paramref name="patch"/> applied and, unless told otherwise, the
    /// checksum recomputed, so that the check under test is the one that fires.</summary>
    private static byte[] Patched(Func<byte[], byte[]> patch, bool rehash = true)
    {
        byte[] bytes = patch(Mlp().ToBytes());
        if (rehash && bytes.Length >= 32)
        {
            SHA256.HashData(bytes.AsSpan(0, bytes.Length - 32), bytes.AsSpan(bytes.Length - 32));
        }
        return bytes;
    }

    private static byte[] U32At(byte[] b, int offset, uint value)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(offset), value);
        return b;
    }

    // One line per damage to a version 2 file: the bytes, and the whole message after the path.
    private static IEnumerable<TestCaseData> Corruptions()
    {
        yield return Case("unknown version", Patched(b => U32At(b, 8, 3)), "checkpoint format version 3 is not supported (this build reads versions 1 and 2)");
        yield return Case("cut in the hidden count", Patched(b => b[..58], rehash: false), "truncated: 58 bytes, shorter than its 60-byte header");
        yield return Case("cut in the hidden sizes", Patched(b => b[..62], rehash: false), "truncated: 62 bytes, shorter than its 68-byte header");
        yield return Case("cut in the weights", Patched(b => b[..1000], rehash: false), $"truncated: 1000 bytes, a K=784, hidden 16, 8, C=10 checkpoint has {MlpLength}");
        yield return Case("trailing bytes", Patched(b => [.. b, 0, 0]), "2 unexpected bytes after the end of a K=784, hidden 16, 8, C=10 checkpoint");
        yield return Case("flipped weight bit", Patched(b => { b[5000] ^= 1; return b; }, rehash: false), "checksum mismatch: the file is corrupt (SHA-256 of its content differs from the one stored in it)");
        yield return Case("zero hidden units", Patched(b => U32At(b, 64, 0)), "implausible shape K=784, hidden 16, 0, C=10");
        yield return Case("huge hidden count", Patched(b => U32At(b, 56, uint.MaxValue)), "implausible hidden-layer count 4294967295 (at most 64)");
        yield return Case("hidden count one past the bound", Patched(b => U32At(b, 56, 65)), "implausible hidden-layer count 65 (at most 64)");
        yield return Case("u32 sizes whose products overflow 64 bits", Patched(b => U32At(U32At(U32At(U32At(b, 12, uint.MaxValue), 16, uint.MaxValue), 60, uint.MaxValue), 64, uint.MaxValue)),
            "implausible shape K=4294967295, hidden 4294967295, 4294967295, C=4294967295");
        yield return Case("parameters just over 2^28", Patched(b => U32At(b, 64, 1 << 24)), "implausible shape K=784, hidden 16, 16777216, C=10");
        yield return Case("epoch beyond int", Patched(b => U32At(b, 20, uint.MaxValue)), "implausible epoch count 4294967295");

        static TestCaseData Case(string name, byte[] bytes, string expected) =>
            new TestCaseData(bytes, expected).SetName("Checkpoint v2 corruption: " + name);
    }

    [TestCaseSource(nameof(Corruptions))]
    public void Each_version_2_corruption_is_reported_from_the_file_and_from_bytes(byte[] bytes, string expected)
    {
        using var dir = new TempDirectory();
        string path = dir.File("model.ckpt");
        File.WriteAllBytes(path, bytes);

        var fromFile = Assert.Throws<CheckpointFormatException>(() => Checkpoint.Load(path))!;
        var fromBytes = Assert.Throws<CheckpointFormatException>(() => Checkpoint.FromBytes(bytes, "m.ckpt"))!;

        Assert.That(fromFile.Message, Is.EqualTo($"{path}: {expected}"));
        Assert.That(fromBytes.Message, Is.EqualTo($"m.ckpt: {expected}"));
    }

    [TestCase(0, 100, float.NaN, "layer 1 W[6, 4] is NaN: the checkpoint holds non-finite weights (a diverged or damaged model)")]
    [TestCase(1, 16 * 8 + 3, float.PositiveInfinity, "layer 2 b[3] is Infinity: the checkpoint holds a non-finite bias (a diverged or damaged model)")]
    [TestCase(2, 8 * 10 - 1, float.NegativeInfinity, "layer 3 W[7, 9] is -Infinity: the checkpoint holds non-finite weights (a diverged or damaged model)")]
    public void A_non_finite_parameter_names_its_layer(int layer, int index, float value, string expected)
    {
        // The parameter's offset: past the header (68 bytes) and the layers before it.
        int[] sizes = s_mlpSizes;
        int offset = 68;
        for (int l = 0; l < layer; l++)
        {
            offset += 4 * (sizes[l] * sizes[l + 1] + sizes[l + 1]);
        }
        byte[] bytes = Patched(b => { BinaryPrimitives.WriteSingleLittleEndian(b.AsSpan(offset + 4 * index), value); return b; });
        var e = Assert.Throws<CheckpointFormatException>(() => Checkpoint.FromBytes(bytes, "m.ckpt"))!;
        Assert.That(e.Message, Is.EqualTo($"m.ckpt: {expected}"));
    }

    [Test]
    public void A_version_2_file_longer_than_its_header_says_is_rejected_before_it_is_read()
    {
        using var dir = new TempDirectory();
        string path = dir.File("m.ckpt");
        using (var file = File.Create(path))
        {
            file.Write(Mlp().ToBytes());
            file.SetLength(1L << 30); // a sparse gigabyte
        }
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<CheckpointFormatException>(() => Checkpoint.Load(path))!;
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.That(e.Message, Is.EqualTo($"{path}: {(1L << 30) - MlpLength} unexpected bytes after the end of a K=784, hidden 16, 8, C=10 checkpoint"));
        Assert.That(allocated, Is.LessThan(1 << 20), "only the header was read");
    }

    [Test]
    public void Layers_that_do_not_chain_are_refused()
    {
        var e = Assert.Throws<ArgumentException>(() => _ = new Checkpoint([Layer(784, 16, 1), Layer(15, 10, 2)]))!;
        Assert.That(e.Message, Does.StartWith("Layer 2 takes 15 inputs but layer 1 gives 16."));
    }
}
