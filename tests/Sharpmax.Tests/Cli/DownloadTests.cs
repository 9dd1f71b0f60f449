using System.Security.Cryptography;
using NUnit.Framework;
using Sharpmax.Cli.Data;

namespace Sharpmax.Tests.Cli;

public class DownloadTests
{
    /// <summary>The four .gz fixture files by name, and their MD5s.</summary>
    private static (Dictionary<string, byte[]> Files, Dictionary<string, string> Md5) Fixtures()
    {
        var content = new Dictionary<string, byte[]>
        {
            [FashionMnistFiles.TrainImagesName] = IdxFixture.ImageFile(IdxFixture.Pixels(30)),
            [FashionMnistFiles.TrainLabelsName] = IdxFixture.LabelFile(IdxFixture.Labels(30)),
            [FashionMnistFiles.TestImagesName] = IdxFixture.ImageFile(IdxFixture.Pixels(10)),
            [FashionMnistFiles.TestLabelsName] = IdxFixture.LabelFile(IdxFixture.Labels(10)),
        };
        var files = content.ToDictionary(kv => kv.Key + ".gz", kv => IdxFixture.Gzip(kv.Value));
        var md5 = content.ToDictionary(kv => kv.Key, kv => Md5Hex(files[kv.Key + ".gz"]));
        return (files, md5);
    }

    // MD5 because the dataset publishes MD5s; IncrementalHash as in the downloader.
    private static string Md5Hex(byte[] data)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.MD5);
        hash.AppendData(data);
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    private static FashionMnistFiles Download(LoopbackHttpServer server, string target, IReadOnlyDictionary<string, string> md5, StringWriter? log = null)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        return new FashionMnistDownloader(http, server.BaseUrl, md5, log ?? new StringWriter()).DownloadAsync(target).GetAwaiter().GetResult();
    }

    [Test]
    public void A_directory_named_like_a_file_or_a_file_named_like_the_folder_is_a_download_error()
    {
        var (files, md5) = Fixtures();
        using var server = new LoopbackHttpServer(files);
        using var dir = new TempDirectory();
        string target = Path.Combine(dir.Path, "fm");
        Directory.CreateDirectory(Path.Combine(target, FashionMnistFiles.TestLabelsName + ".gz"));
        File.WriteAllText(dir.File("file"), "");

        var inPlace = Assert.Throws<DownloadException>(() => Download(server, target, md5))!;
        var onFile = Assert.Throws<DownloadException>(() => Download(server, Path.Combine(dir.File("file"), "fm"), md5))!;

        Assert.That(inPlace.Message, Is.EqualTo($"{target}/t10k-labels-idx1-ubyte.gz is a directory, not a file; move it away to download t10k-labels-idx1-ubyte.gz"));
        Assert.That(onFile.Message, Does.StartWith($"{dir.File("file")}/fm: cannot create the download directory: "));
        Assert.That(Directory.GetFiles(target), Has.None.EndsWith(".part"), "no partial file is left");
    }

    [Test]
    public void Downloads_verifies_and_writes_the_four_files()
    {
        var (files, md5) = Fixtures();
        using var server = new LoopbackHttpServer(files);
        using var dir = new TempDirectory();
        string target = Path.Combine(dir.Path, "fm");
        var log = new StringWriter();

        var found = Download(server, target, md5, log);

        var data = FashionMnist.Load(found);
        Assert.That(data.Train.Count, Is.EqualTo(30));
        Assert.That(data.Test.Count, Is.EqualTo(10));
        Assert.That(Directory.GetFiles(target).Select(Path.GetFileName).Order(),
            Is.EqualTo(files.Keys.Order()), "exactly the four files, no temporary leftovers");
        Assert.That(log.ToString(), Does.Contain("MD5 verified"));
    }

    [Test]
    public void Files_already_present_are_not_fetched_again()
    {
        var (files, md5) = Fixtures();
        using var server = new LoopbackHttpServer(files);
        using var dir = new TempDirectory();
        File.WriteAllBytes(Path.Combine(dir.Path, "train-images-idx3-ubyte.gz"), files["train-images-idx3-ubyte.gz"]);

        Download(server, dir.Path, md5);

        Assert.That(server.Requests, Has.Count.EqualTo(3));
        Assert.That(server.Requests, Has.None.Contains("train-images"));
    }

    [Test]
    public void A_checksum_mismatch_keeps_nothing()
    {
        var (files, md5) = Fixtures();
        md5[FashionMnistFiles.TestImagesName] = new string('0', 32);
        using var server = new LoopbackHttpServer(files);
        using var dir = new TempDirectory();

        var e = Assert.Throws<DownloadException>(() => Download(server, dir.Path, md5))!;

        Assert.That(e.Message, Does.Contain("t10k-images-idx3-ubyte.gz: MD5 ").And.Contain("does not match the published 00000000000000000000000000000000; the file was not kept"));
        Assert.That(File.Exists(Path.Combine(dir.Path, "t10k-images-idx3-ubyte.gz")), Is.False);
        Assert.That(Directory.GetFiles(dir.Path).Where(f => f.EndsWith(".part", StringComparison.Ordinal)), Is.Empty);
    }

    [Test]
    public void A_file_that_passes_the_checksum_but_is_not_idx_is_rejected()
    {
        var (files, md5) = Fixtures();
        files["t10k-labels-idx1-ubyte.gz"] = IdxFixture.Gzip(IdxFixture.LabelFile([1, 2, 30]));
        md5[FashionMnistFiles.TestLabelsName] = Md5Hex(files["t10k-labels-idx1-ubyte.gz"]);
        using var server = new LoopbackHttpServer(files);
        using var dir = new TempDirectory();

        var e = Assert.Throws<DownloadException>(() => Download(server, dir.Path, md5))!;

        Assert.That(e.Message, Does.Contain("not a valid IDX file").And.Contain("label 30 at index 2"));
        Assert.That(File.Exists(Path.Combine(dir.Path, "t10k-labels-idx1-ubyte.gz")), Is.False);
    }

    [Test]
    public void A_missing_file_on_the_server_is_an_http_error()
    {
        var (files, md5) = Fixtures();
        files.Remove("train-labels-idx1-ubyte.gz");
        using var server = new LoopbackHttpServer(files);
        using var dir = new TempDirectory();

        var e = Assert.Throws<DownloadException>(() => Download(server, dir.Path, md5))!;

        Assert.That(e.Message, Does.Contain("train-labels-idx1-ubyte.gz: HTTP 404"));
    }

    [Test]
    public void A_dropped_connection_keeps_nothing()
    {
        var (files, md5) = Fixtures();
        using var server = new LoopbackHttpServer(files) { CutAfterBytes = 100 };
        using var dir = new TempDirectory();

        Assert.Throws<DownloadException>(() => Download(server, dir.Path, md5));

        Assert.That(Directory.GetFiles(dir.Path), Is.Empty);
    }

    [Test]
    public void A_refused_connection_is_a_download_error()
    {
        int port;
        using (var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((System.Net.IPEndPoint)probe.LocalEndpoint).Port;
        }
        using var http = new HttpClient();
        using var dir = new TempDirectory();
        var downloader = new FashionMnistDownloader(http, new Uri($"http://127.0.0.1:{port}/x"), Fixtures().Md5, new StringWriter());

        var e = Assert.Throws<DownloadException>(() => downloader.DownloadAsync(dir.Path).GetAwaiter().GetResult())!;

        Assert.That(e.Message, Does.StartWith($"http://127.0.0.1:{port}/x/train-images-idx3-ubyte.gz: "));
    }

    [Test]
    public void The_official_checksums_are_the_published_ones()
    {
        // From the table in zalandoresearch/fashion-mnist's README (also /usr/share/doc/dataset-fashion-mnist/README.md.gz).
        Assert.That(FashionMnistDownloader.OfficialMd5[FashionMnistFiles.TrainImagesName], Is.EqualTo("8d4fb7e6c68d591d4c3dfef9ec88bf0d"));
        Assert.That(FashionMnistDownloader.OfficialMd5[FashionMnistFiles.TrainLabelsName], Is.EqualTo("25c81989df183df01b3e8a0aad5dffbe"));
        Assert.That(FashionMnistDownloader.OfficialMd5[FashionMnistFiles.TestImagesName], Is.EqualTo("bef4ecab320f06d8554ea6380940ec79"));
        Assert.That(FashionMnistDownloader.OfficialMd5[FashionMnistFiles.TestLabelsName], Is.EqualTo("bb300cfdad3c16e7a12a480ee83cd310"));
    }
}
