using System.Buffers.Binary;
using System.Security.Cryptography;
using NUnit.Framework;
using Sharpmax.Cli;
using Sharpmax.Cli.Data;
using Sharpmax.Cli.Output;

namespace Sharpmax.Tests.Cli;

/// <summary>
/// What a file's header declares is checked against the file before anything is allocated or decoded, and every
/// number read from a file is checked for range; each bad file is a one-line error naming it.
/// </summary>
[NonParallelizable] // measures this thread's allocations
public class InputLimitsTests
{
    // Far above what reading these small files needs (the 64 KiB first chunk, SkiaSharp's own small buffers) and
    // far below what the headers declare (2.1 GB of pixels, 10¹² or 2.56·10⁸ pixels of PNG).
    private const long AllocationLimit = 8 << 20;

    private static long Allocated(Action action)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        action();
        return GC.GetAllocatedBytesForCurrentThread() - before;
    }

    [TestCase(false)]
    [TestCase(true)]
    public void An_idx_header_declaring_millions_of_images_in_a_tiny_file_allocates_nothing_like_it(bool gzip)
    {
        using var dir = new TempDirectory();
        string path = IdxFixture.Write(dir.Path, "img", IdxFixture.ImageFile(new byte[84], count: 2_700_000), gzip);
        IdxFormatException? error = null;
        long allocated = Allocated(() => error = Assert.Throws<IdxFormatException>(() => IdxReader.ReadImages(path)));
        Assert.That(error!.Message, Is.EqualTo($"{path}: truncated: the header announces 2700000 images of 28×28 (2116800000 bytes of data) but only 84 bytes follow"));
        Assert.That(allocated, Is.LessThan(AllocationLimit));
    }

    [Test]
    public void A_label_header_declaring_more_than_the_file_holds_allocates_nothing_like_it()
    {
        using var dir = new TempDirectory();
        string path = IdxFixture.Write(dir.Path, "lbl", IdxFixture.LabelFile([1, 2, 3], count: 2_000_000_000), gzip: false);
        long allocated = Allocated(() => Assert.Throws<IdxFormatException>(() => IdxReader.ReadLabels(path)));
        Assert.That(allocated, Is.LessThan(AllocationLimit));
    }

    [Test]
    public void Corrupt_gzip_data_says_so_without_dotnets_guess_at_the_cause()
    {
        using var dir = new TempDirectory();
        byte[] gz = IdxFixture.Gzip(IdxFixture.ImageFile(IdxFixture.Pixels(3)));
        gz[10] |= 0x06; // the first deflate block's type becomes 11, which RFC 1951 reserves
        string path = dir.File("img.gz");
        File.WriteAllBytes(path, gz);
        var e = Assert.Throws<IdxFormatException>(() => IdxReader.ReadImages(path))!;
        Assert.That(e.Message, Is.EqualTo($"{path}: corrupt gzip data: the file does not decompress (damaged or truncated download?)"));
    }

    [Test]
    public void A_directory_named_like_an_idx_file_is_reported_as_a_directory()
    {
        using var dir = new TempDirectory();
        IdxFixture.WriteDataSet(dir.Path);
        File.Delete(dir.File("t10k-labels-idx1-ubyte.gz"));
        Directory.CreateDirectory(dir.File("t10k-labels-idx1-ubyte.gz"));
        var e = Assert.Throws<DataNotFoundException>(() => new FashionMnistLocator(null, dir.Path, []).Locate(dir.Path))!;
        Assert.That(e.Message, Does.Contain($"--data ({dir.Path}): t10k-labels-idx1-ubyte.gz is a directory, not a file"));
        Assert.That(e.Message, Does.Not.Contain("missing"));
        var read = Assert.Throws<IdxFormatException>(() => IdxReader.ReadLabels(dir.File("t10k-labels-idx1-ubyte.gz")))!;
        Assert.That(read.Message, Does.EndWith("is a directory, not an IDX file"));
    }

    /// <summary>A PNG signature and an IHDR chunk declaring the given size (CRC zero), then <paramref name="tail"/> bytes.</summary>
    private static byte[] PngHeader(uint width, uint height, int tail)
    {
        var bytes = new byte[8 + 25 + tail];
        new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A }.CopyTo(bytes, 0);
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(8), 13);
        "IHDR"u8.CopyTo(bytes.AsSpan(12));
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(16), width);
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(20), height);
        bytes[24] = 8; // bit depth
        return bytes;
    }

    [TestCase(1_000_000u, 1_000_000u, "the image is 1000000×1000000 pixels; the model takes 28×28 grayscale")]
    [TestCase(16_000u, 16_000u, "the image is 16000×16000 pixels; the model takes 28×28 grayscale")]
    [TestCase(0xFFFFFFFFu, 28u, "the image is 4294967295×28 pixels; the model takes 28×28 grayscale")]
    public void A_png_declaring_a_huge_size_is_rejected_before_decoding(uint width, uint height, string expected)
    {
        using var dir = new TempDirectory();
        string path = dir.File("x.png");
        File.WriteAllBytes(path, PngHeader(width, height, tail: 36)); // 69 bytes, as in the report
        UserErrorException? error = null;
        long allocated = Allocated(() => error = Assert.Throws<UserErrorException>(() => GrayImageFile.Read(path)));
        Assert.That(error!.Message, Is.EqualTo($"{path}: {expected}"));
        Assert.That(allocated, Is.LessThan(AllocationLimit));
    }

    [TestCase(8)]
    [TestCase(20)]
    public void A_png_cut_short_before_its_header_is_a_user_error(int length)
    {
        using var dir = new TempDirectory();
        string path = dir.File("x.png");
        File.WriteAllBytes(path, PngHeader(28, 28, 0)[..length]);
        var e = Assert.Throws<UserErrorException>(() => GrayImageFile.Read(path))!;
        Assert.That(e.Message, Is.EqualTo($"{path}: not a valid PNG: the IHDR header does not follow the signature (truncated or damaged file)"));
    }

    [Test]
    public void A_28x28_png_header_with_garbage_data_is_a_user_error()
    {
        using var dir = new TempDirectory();
        string path = dir.File("x.png");
        File.WriteAllBytes(path, PngHeader(28, 28, tail: 40));
        var e = Assert.Throws<UserErrorException>(() => GrayImageFile.Read(path))!;
        Assert.That(e.Message, Is.EqualTo($"{path}: the PNG data cannot be decoded"));
    }

    [Test]
    public void An_endless_image_file_is_read_only_up_to_the_limit()
    {
        Assume.That(File.Exists("/dev/zero"), "/dev/zero");
        var e = Assert.Throws<UserErrorException>(() => GrayImageFile.Read("/dev/zero"))!;
        Assert.That(e.Message, Is.EqualTo("/dev/zero: larger than 16 MiB, far more than a 28×28 image needs"));
    }

    /// <summary>A valid checkpoint's bytes with <paramref name="patch"/> applied and the checksum recomputed.</summary>
    private static byte[] Patched(Action<byte[]> patch, bool rehash = true)
    {
        byte[] bytes = new Checkpoint(784, 10, new float[7840], new float[10]) { Epoch = 3 }.ToBytes();
        patch(bytes);
        if (rehash)
        {
            SHA256.HashData(bytes.AsSpan(0, bytes.Length - 32), bytes.AsSpan(bytes.Length - 32));
        }
        return bytes;
    }

    [Test]
    public void A_checkpoint_shape_near_the_u32_limit_is_implausible_not_an_overflow()
    {
        byte[] bytes = Patched(b => { BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(12), uint.MaxValue); BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(16), uint.MaxValue); }, rehash: false);
        var e = Assert.Throws<CheckpointFormatException>(() => Checkpoint.FromBytes(bytes, "m.ckpt"))!;
        Assert.That(e.Message, Is.EqualTo("m.ckpt: implausible shape K=4294967295, C=4294967295"));
    }

    [Test]
    public void An_epoch_field_beyond_int_is_implausible_not_negative()
    {
        byte[] bytes = Patched(b => BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(20), uint.MaxValue));
        var e = Assert.Throws<CheckpointFormatException>(() => Checkpoint.FromBytes(bytes, "m.ckpt"))!;
        Assert.That(e.Message, Is.EqualTo("m.ckpt: implausible epoch count 4294967295"));
    }

    [Test]
    public void A_checkpoint_file_longer_than_its_header_says_is_rejected_before_it_is_read()
    {
        using var dir = new TempDirectory();
        string path = dir.File("m.ckpt");
        using (var file = File.Create(path))
        {
            file.Write(Patched(_ => { }));
            file.SetLength(1L << 30); // a sparse gigabyte
        }
        CheckpointFormatException? error = null;
        long allocated = Allocated(() => error = Assert.Throws<CheckpointFormatException>(() => Checkpoint.Load(path)));
        Assert.That(error!.Message, Is.EqualTo($"{path}: {(1L << 30) - 31488} unexpected bytes after the end of a K=784, C=10 checkpoint"));
        Assert.That(allocated, Is.LessThan(AllocationLimit));
    }

    [TestCase("eval", 100, "W[10, 0] is NaN: the checkpoint holds non-finite weights (a diverged or damaged model)")]
    [TestCase("predict", 7839, "W[783, 9] is Infinity: the checkpoint holds non-finite weights (a diverged or damaged model)")]
    [TestCase("eval", 7845, "b[5] is -Infinity: the checkpoint holds a non-finite bias (a diverged or damaged model)")]
    public void A_checkpoint_with_non_finite_parameters_is_refused(string command, int index, string expected)
    {
        using var dir = new TempDirectory();
        IdxFixture.WriteDataSet(dir.File("data"), train: 10, test: 10);
        float value = index == 100 ? float.NaN : index == 7839 ? float.PositiveInfinity : float.NegativeInfinity;
        File.WriteAllBytes(dir.File("m.ckpt"), Patched(b => BinaryPrimitives.WriteSingleLittleEndian(b.AsSpan(Checkpoint.HeaderBytes + 4 * index), value)));
        string[] args = command == "eval"
            ? ["eval", "--checkpoint", dir.File("m.ckpt"), "--data", dir.File("data"), "--device", "cpu"]
            : ["predict", "--checkpoint", dir.File("m.ckpt"), "--index", "0", "--data", dir.File("data")];
        var (code, output, error) = CliRunner.Run(args);
        Assert.That(code, Is.EqualTo(ExitCodes.BadInput));
        Assert.That(error, Is.EqualTo($"sharpmax: error: {dir.File("m.ckpt")}: {expected}" + Environment.NewLine));
        Assert.That(output, Is.Empty);
    }

    [Test]
    public void Eval_and_predict_say_which_data_folder_they_used()
    {
        using var dir = new TempDirectory();
        IdxFixture.WriteDataSet(dir.File("data"), train: 10, test: 10);
        new Checkpoint(784, 10, new float[7840], new float[10]).Save(dir.File("m.ckpt"));
        var eval = CliRunner.Run("eval", "--checkpoint", dir.File("m.ckpt"), "--data", dir.File("data"), "--device", "cpu");
        var predict = CliRunner.Run("predict", "--checkpoint", dir.File("m.ckpt"), "--index", "1", "--data", dir.File("data"));
        Assert.That(eval.ExitCode, Is.Zero, eval.Error);
        Assert.That(eval.Out, Does.StartWith($"data: {dir.File("data")}{Environment.NewLine}"));
        Assert.That(predict.Out, Does.StartWith($"data: {dir.File("data")}{Environment.NewLine}"));
    }

    [TestCase("eval")]
    [TestCase("predict")]
    public void An_empty_checkpoint_or_image_path_is_a_one_line_error(string command)
    {
        string[] args = command == "eval" ? ["eval", "--checkpoint", ""] : ["predict", "--checkpoint", "", "--image", "x.png"];
        var (code, _, error) = CliRunner.Run(args);
        Assert.That(code, Is.EqualTo(ExitCodes.BadInput));
        Assert.That(error, Does.StartWith("sharpmax: error: ").And.Not.Contain("   at "));
        Assert.That(error.TrimEnd().Split('\n'), Has.Length.EqualTo(1));
    }
}
