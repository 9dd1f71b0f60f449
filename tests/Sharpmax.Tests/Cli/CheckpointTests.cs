using System.Buffers.Binary;
using NUnit.Framework;
using Sharpmax.Cli.Output;

namespace Sharpmax.Tests.Cli;

public class CheckpointTests
{
    private static Checkpoint Sample(int k = 784, int c = 10)
    {
        var random = new Random(7);
        return new Checkpoint(k, c,
            Enumerable.Range(0, k * c).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray(),
            Enumerable.Range(0, c).Select(i => i * 0.25f - 1).ToArray())
        {
            Epoch = 10,
            Seed = 123456789012345UL,
            TrainLoss = 0.4471,
            TestLoss = 0.5123,
            TestAccuracy = 0.8312,
        };
    }

    [Test]
    public void Round_trips_every_field_bit_for_bit()
    {
        using var dir = new TempDirectory();
        var original = Sample();
        original.Weights[5] = float.Epsilon; // a subnormal must survive too
        string path = dir.File("model.ckpt");

        original.Save(path);
        var loaded = Checkpoint.Load(path);

        Assert.That(loaded.Features, Is.EqualTo(784));
        Assert.That(loaded.Classes, Is.EqualTo(10));
        Assert.That(loaded.Weights, Is.EqualTo(original.Weights));
        Assert.That(loaded.Bias, Is.EqualTo(original.Bias));
        Assert.That((loaded.Epoch, loaded.Seed, loaded.TrainLoss, loaded.TestLoss, loaded.TestAccuracy),
            Is.EqualTo((original.Epoch, original.Seed, original.TrainLoss, original.TestLoss, original.TestAccuracy)));
        Assert.That(new FileInfo(path).Length, Is.EqualTo(56 + 4 * (784 * 10 + 10) + 32));
        Assert.That(Directory.GetFiles(dir.Path), Has.Length.EqualTo(1), "no temporary file is left behind");
    }

    [Test]
    public void The_layout_is_the_documented_one()
    {
        byte[] bytes = Sample(3, 2).ToBytes();
        Assert.That(System.Text.Encoding.ASCII.GetString(bytes, 0, 8), Is.EqualTo("SMAXCKPT"));
        Assert.That(BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(8)), Is.EqualTo(1u), "version");
        Assert.That(BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(12)), Is.EqualTo(3u), "K");
        Assert.That(BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(16)), Is.EqualTo(2u), "C");
        var sample = Sample(3, 2);
        Assert.That(BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(56 + 4 * (1 * 2 + 1))), Is.EqualTo(sample.Weights[1 * 2 + 1]), "W[1, 1], row-major K×C");
        Assert.That(BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(56 + 4 * 6 + 4)), Is.EqualTo(sample.Bias[1]), "b[1] after W");
    }

    [Test]
    public void Saving_over_a_good_checkpoint_replaces_it_whole()
    {
        using var dir = new TempDirectory();
        string path = dir.File("model.ckpt");
        Sample().Save(path);
        var second = new Checkpoint(784, 10, new float[7840], new float[10]) { Epoch = 11 };

        second.Save(path);

        Assert.That(Checkpoint.Load(path).Epoch, Is.EqualTo(11));
    }

    [Test]
    public void A_failed_save_leaves_the_previous_checkpoint_untouched()
    {
        using var dir = new TempDirectory();
        string path = dir.File("model.ckpt");
        Sample().Save(path);
        byte[] before = File.ReadAllBytes(path);

        Assert.Throws<InvalidOperationException>(() => AtomicFile.Write(path, stream =>
        {
            stream.Write(new byte[100]);
            throw new InvalidOperationException("interrupted half way");
        }));

        Assert.That(File.ReadAllBytes(path), Is.EqualTo(before));
        Assert.That(Directory.GetFiles(dir.Path), Has.Length.EqualTo(1), "the temporary file is removed");
    }

    // One line per corruption: how to damage the bytes, and what the message must say.
    private static IEnumerable<TestCaseData> Corruptions()
    {
        yield return Case("wrong magic", b => { b[0] = (byte)'X'; return b; }, "not a Sharpmax checkpoint");
        yield return Case("empty file", _ => [], "not a Sharpmax checkpoint");
        yield return Case("unsupported version", b => { BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(8), 3); return b; }, "version 3 is not supported (this build reads versions 1 and 2)");
        yield return Case("truncated header", b => b[..30], "truncated: 30 bytes, shorter than the 56-byte header");
        yield return Case("truncated weights", b => b[..1000], "truncated: 1000 bytes, a K=784, C=10 checkpoint has 31488");
        yield return Case("trailing bytes", b => [.. b, 0], "1 unexpected bytes after the end");
        yield return Case("flipped weight bit", b => { b[500] ^= 1; return b; }, "checksum mismatch");
        yield return Case("flipped checksum bit", b => { b[^1] ^= 0x80; return b; }, "checksum mismatch");
        yield return Case("zero classes", b => { BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(16), 0); return b; }, "implausible shape K=784, C=0");
        yield return Case("absurd shape", b => { BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(12), uint.MaxValue); return b; }, "implausible shape");

        static TestCaseData Case(string name, Func<byte[], byte[]> damage, string expected) =>
            new TestCaseData(damage, expected).SetName("Checkpoint corruption: " + name);
    }

    [TestCaseSource(nameof(Corruptions))]
    public void Each_corruption_is_reported_with_the_file_and_the_problem(Func<byte[], byte[]> damage, string expected)
    {
        using var dir = new TempDirectory();
        string path = dir.File("model.ckpt");
        File.WriteAllBytes(path, damage(Sample().ToBytes()));

        var e = Assert.Throws<CheckpointFormatException>(() => Checkpoint.Load(path))!;

        Assert.That(e.Message, Does.StartWith(path + ": ").And.Contain(expected));
    }

    [Test]
    public void A_missing_checkpoint_is_a_user_error()
    {
        using var dir = new TempDirectory();
        var e = Assert.Throws<CheckpointFormatException>(() => Checkpoint.Load(dir.File("none.ckpt")))!;
        Assert.That(e.Message, Does.Contain("cannot read the checkpoint"));
    }
}
