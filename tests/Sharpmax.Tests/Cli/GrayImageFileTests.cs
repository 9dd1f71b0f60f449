using System.Text;
using NUnit.Framework;
using Sharpmax.Cli;
using Sharpmax.Cli.Data;
using SkiaSharp;

namespace Sharpmax.Tests.Cli;

public class GrayImageFileTests
{
    private static readonly byte[] Expected = IdxFixture.Pixels(1);

    [Test]
    public void Reads_binary_pgm()
    {
        using var dir = new TempDirectory();
        string path = dir.File("x.pgm");
        File.WriteAllBytes(path, [.. Encoding.ASCII.GetBytes("P5\n# a comment\n28 28\n255\n"), .. Expected]);
        Assert.That(GrayImageFile.Read(path), Is.EqualTo(Expected));
    }

    [Test]
    public void Reads_ascii_pgm_with_another_maximum()
    {
        using var dir = new TempDirectory();
        string path = dir.File("x.pgm");
        // maxval 15: sample s becomes round(s·255/15) = 17·s.
        File.WriteAllText(path, "P2\n28 28\n15\n" + string.Join(' ', Enumerable.Range(0, 784).Select(i => i % 16)));
        Assert.That(GrayImageFile.Read(path), Is.EqualTo(Enumerable.Range(0, 784).Select(i => (byte)(17 * (i % 16))).ToArray()));
    }

    [Test]
    public void Reads_grayscale_png()
    {
        using var dir = new TempDirectory();
        string path = dir.File("x.png");
        using (var bitmap = new SKBitmap(new SKImageInfo(28, 28, SKColorType.Gray8, SKAlphaType.Opaque)))
        {
            Expected.CopyTo(bitmap.GetPixelSpan());
            using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
            File.WriteAllBytes(path, data.ToArray());
        }
        Assert.That(GrayImageFile.Read(path), Is.EqualTo(Expected));
    }

    [TestCase("P5\n32 28\n255\n", "32×28 pixels")]
    [TestCase("P5\n28 28\n255\n\u0001\u0002", "truncated PGM")]
    [TestCase("P2\n28 28\n255\n1 2 x", "malformed or truncated PGM")]
    [TestCase("P2\n28 28\n7\n9", "sample 9 exceeds the maximum value 7")]
    [TestCase("GIF89a", "not a PGM (P2/P5) or PNG image")]
    public void Bad_images_are_user_errors(string content, string expected)
    {
        using var dir = new TempDirectory();
        string path = dir.File("bad");
        File.WriteAllText(path, content, Encoding.Latin1);
        var e = Assert.Throws<UserErrorException>(() => GrayImageFile.Read(path))!;
        Assert.That(e.Message, Does.StartWith(path + ": ").And.Contain(expected));
    }
}
