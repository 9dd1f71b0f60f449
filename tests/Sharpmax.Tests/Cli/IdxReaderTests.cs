using NUnit.Framework;
using Sharpmax.Cli.Data;

namespace Sharpmax.Tests.Cli;

public class IdxReaderTests
{
    private string _dir = "";

    [SetUp]
    public void SetUp() => _dir = Directory.CreateTempSubdirectory("sharpmax-test-").FullName;

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    private string File(string name) => Path.Combine(_dir, name);

    [TestCase(true)]
    [TestCase(false)]
    public void Reads_images_and_labels_gz_or_raw(bool gzip)
    {
        byte[] pixels = IdxFixture.Pixels(5);
        string images = IdxFixture.Write(_dir, "img", IdxFixture.ImageFile(pixels), gzip);
        string labels = IdxFixture.Write(_dir, "lbl", IdxFixture.LabelFile([0, 9, 3, 4, 5]), gzip);

        var set = LabeledImages.Load(images, labels);

        Assert.That(set.Count, Is.EqualTo(5));
        Assert.That(set.Pixels, Is.EqualTo(pixels));
        Assert.That(set.Labels, Is.EqualTo(new byte[] { 0, 9, 3, 4, 5 }));
        Assert.That(set.Image(2).ToArray(), Is.EqualTo(pixels.AsSpan(2 * 784, 784).ToArray()));
    }

    [Test]
    public void Reads_the_real_data_when_installed()
    {
        var files = FashionMnistFiles.TryFind(FashionMnistLocator.DebianDirectory, out _);
        Assume.That(files, Is.Not.Null, "Debian's dataset-fashion-mnist is not installed");
        var data = FashionMnist.Load(files!);
        Assert.That(data.Train.Count, Is.EqualTo(60000));
        Assert.That(data.Test.Count, Is.EqualTo(10000));
        Assert.That(data.Train.Labels.Count(l => l == 0), Is.EqualTo(6000), "Fashion-MNIST is balanced: 6000 training images per class");
    }

    // One line per bad input: the file content, and the words the message must contain.
    private static IEnumerable<TestCaseData> BadImageFiles()
    {
        byte[] two = IdxFixture.Pixels(2);
        yield return new TestCaseData(IdxFixture.ImageFile(two, magic: 0x00000804), "magic number 0x00000804, expected 0x00000803").SetName("Image file: wrong magic");
        yield return new TestCaseData(IdxFixture.ImageFile(two, magic: 0x00000801), "label file").SetName("Image file: a label file instead");
        yield return new TestCaseData(IdxFixture.ImageFile(two, rows: 32), "32×28 pixels, expected 28×28").SetName("Image file: wrong rows");
        yield return new TestCaseData(IdxFixture.ImageFile(two, columns: 27), "28×27 pixels").SetName("Image file: wrong columns");
        yield return new TestCaseData(IdxFixture.ImageFile(two, count: 3), "truncated: the header announces 3 images").SetName("Image file: count larger than data");
        yield return new TestCaseData(IdxFixture.ImageFile(two, count: 1), "extra bytes after the 1 images").SetName("Image file: count smaller than data");
        yield return new TestCaseData(IdxFixture.ImageFile([], count: 0), "announces 0 images").SetName("Image file: zero images");
        yield return new TestCaseData(IdxFixture.ImageFile(two)[..10], "truncated: 10 bytes, shorter than the 16-byte IDX image header").SetName("Image file: truncated header");
        yield return new TestCaseData(IdxFixture.ImageFile(two)[..(16 + 784 + 5)], "only 789 bytes follow").SetName("Image file: truncated pixels");
        yield return new TestCaseData(Array.Empty<byte>(), "truncated: 0 bytes").SetName("Image file: empty");
    }

    [TestCaseSource(nameof(BadImageFiles))]
    public void Bad_image_files_are_reported_with_the_file_and_the_problem(byte[] content, string expected)
    {
        foreach (bool gzip in new[] { false, true })
        {
            string path = IdxFixture.Write(_dir, "images", content, gzip);
            var e = Assert.Throws<IdxFormatException>(() => IdxReader.ReadImages(path))!;
            Assert.That(e.Message, Does.StartWith(path + ": ").And.Contain(expected), $"gzip: {gzip}");
        }
    }

    private static IEnumerable<TestCaseData> BadLabelFiles()
    {
        yield return new TestCaseData(IdxFixture.LabelFile([1, 2], magic: 0x00000803), "image file").SetName("Label file: an image file instead");
        yield return new TestCaseData(IdxFixture.LabelFile([1, 2], magic: 0x12345678), "magic number 0x12345678, expected 0x00000801").SetName("Label file: wrong magic");
        yield return new TestCaseData(IdxFixture.LabelFile([1, 2, 12, 3]), "label 12 at index 2 is outside 0..9").SetName("Label file: label out of range");
        yield return new TestCaseData(IdxFixture.LabelFile([1, 2], count: 5), "truncated: the header announces 5 labels").SetName("Label file: truncated");
        yield return new TestCaseData(IdxFixture.LabelFile([1, 2], count: 1), "extra bytes").SetName("Label file: trailing bytes");
        yield return new TestCaseData(IdxFixture.LabelFile([1, 2])[..6], "shorter than the 8-byte IDX label header").SetName("Label file: truncated header");
    }

    [TestCaseSource(nameof(BadLabelFiles))]
    public void Bad_label_files_are_reported_with_the_file_and_the_problem(byte[] content, string expected)
    {
        foreach (bool gzip in new[] { false, true })
        {
            string path = IdxFixture.Write(_dir, "labels", content, gzip);
            var e = Assert.Throws<IdxFormatException>(() => IdxReader.ReadLabels(path))!;
            Assert.That(e.Message, Does.StartWith(path + ": ").And.Contain(expected), $"gzip: {gzip}");
        }
    }

    [Test]
    public void Corrupt_gzip_data_is_reported()
    {
        byte[] gz = IdxFixture.Gzip(IdxFixture.ImageFile(IdxFixture.Pixels(3)));
        for (int i = 12; i < gz.Length - 8; i++)
        {
            gz[i] ^= 0x5A; // scramble the deflate stream, keep the gzip header
        }
        string path = File("corrupt.gz");
        System.IO.File.WriteAllBytes(path, gz);

        var e = Assert.Throws<IdxFormatException>(() => IdxReader.ReadImages(path))!;

        Assert.That(e.Message, Does.StartWith(path + ": "));
        Assert.That(e.Message, Does.Contain("gzip").Or.Contain("truncated").Or.Contain("magic"));
    }

    [Test]
    public void A_truncated_gzip_file_is_reported()
    {
        byte[] gz = IdxFixture.Gzip(IdxFixture.ImageFile(IdxFixture.Pixels(50)));
        string path = File("cut.gz");
        System.IO.File.WriteAllBytes(path, gz[..(gz.Length / 2)]);

        var e = Assert.Throws<IdxFormatException>(() => IdxReader.ReadImages(path))!;

        Assert.That(e.Message, Does.StartWith(path + ": ").And.Contain("gzip").Or.Contain("truncated"));
    }

    [Test]
    public void A_missing_file_is_reported()
    {
        string path = File("absent");
        var e = Assert.Throws<IdxFormatException>(() => IdxReader.ReadLabels(path))!;
        Assert.That(e.Message, Does.StartWith(path + ": cannot open"));
    }

    [Test]
    public void Image_and_label_counts_must_agree()
    {
        string images = IdxFixture.Write(_dir, "img", IdxFixture.ImageFile(IdxFixture.Pixels(4)), gzip: true);
        string labels = IdxFixture.Write(_dir, "lbl", IdxFixture.LabelFile([1, 2, 3]), gzip: true);

        var e = Assert.Throws<IdxFormatException>(() => LabeledImages.Load(images, labels))!;

        Assert.That(e.Message, Is.EqualTo($"{images} holds 4 images but {labels} holds 3 labels; the counts must agree"));
    }
}
