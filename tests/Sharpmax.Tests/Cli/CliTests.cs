using NUnit.Framework;
using Sharpmax.Cli;
using Sharpmax.Cli.Output;

namespace Sharpmax.Tests.Cli;

public class CliTests
{
    [TestCase]
    [TestCase("train")]
    [TestCase("eval")]
    [TestCase("predict")]
    [TestCase("stability")]
    public void Every_command_has_help(params string[] command)
    {
        var (code, output, error) = CliRunner.Run([.. command, "--help"]);
        Assert.That(code, Is.Zero, error);
        Assert.That(output, Does.Contain("Usage:").And.Contain("sharpmax"));
    }

    [Test]
    public void Train_help_lists_every_option_with_its_default()
    {
        var (_, output, _) = CliRunner.Run("train", "--help");
        foreach (string option in new[] { "--data", "--epochs", "--batch-size", "--lr", "--weight-decay", "--loss", "--device", "--seed", "--out", "--label-smoothing", "--quiet", "--download", "--overwrite" })
        {
            Assert.That(output, Does.Contain(option));
        }
        Assert.That(output, Does.Contain("[default: 10]").And.Contain("[default: 256]").And.Contain("[default: 0.1]").And.Contain("[default: fused]"));
    }

    // One line per bad command line: the arguments and what stderr must say.
    [TestCase(new[] { "train", "--epochs", "0" }, "--epochs must be between 1 and 2147483647, not '0'.")]
    [TestCase(new[] { "train", "--epochs", "ten" }, "--epochs must be a whole number (digits only), not 'ten'.")]
    [TestCase(new[] { "train", "--batch-size", "0" }, "--batch-size must be between 1 and 60000, not '0'.")]
    [TestCase(new[] { "train", "--lr", "-0.1" }, "--lr must be a positive number, not '-0.1'.")]
    [TestCase(new[] { "train", "--lr", "NaN" }, "--lr must be a plain number such as 0.05")]
    [TestCase(new[] { "train", "--weight-decay", "-1" }, "--weight-decay must be zero or positive, not '-1'.")]
    [TestCase(new[] { "train", "--label-smoothing", "1" }, "--label-smoothing must be in [0, 1), not '1'.")]
    [TestCase(new[] { "train", "--loss", "softmax" }, "'softmax' not recognized")]
    [TestCase(new[] { "train", "--device", "gpu" }, "'gpu' not recognized")]
    [TestCase(new[] { "train", "--download-url", "ftp://x/" }, "--download-url must be an http:// or https:// URL.")]
    [TestCase(new[] { "train", "--frobnicate" }, "Unrecognized command or argument '--frobnicate'")]
    [TestCase(new[] { "eval" }, "Option '--checkpoint' is required.")]
    [TestCase(new[] { "predict", "--checkpoint", "m.ckpt" }, "Give exactly one of --index I and --image FILE.")]
    [TestCase(new[] { "predict", "--checkpoint", "m.ckpt", "--index", "1", "--image", "x.png" }, "Give exactly one of --index I and --image FILE.")]
    [TestCase(new[] { "fly" }, "Unrecognized command or argument 'fly'")]
    public void Bad_flags_exit_with_a_usage_error_and_no_stack_trace(string[] args, string expected)
    {
        var (code, output, error) = CliRunner.Run(args);
        Assert.That(code, Is.EqualTo(ExitCodes.Usage));
        Assert.That(error, Does.Contain(expected).And.Contain("--help' for the options."));
        Assert.That(error, Does.Not.Contain("   at "), "no stack trace");
        Assert.That(output, Is.Empty);
    }

    [Test]
    public void Missing_data_exits_with_the_places_searched_and_how_to_get_it()
    {
        using var empty = new TempDirectory();
        var (code, _, error) = CliRunner.Run("train", "--data", empty.Path, "--out", empty.File("out"));
        Assert.That(code, Is.EqualTo(ExitCodes.BadInput));
        Assert.That(error, Does.StartWith($"sharpmax: error: --data {empty.Path} does not hold Fashion-MNIST"));
        Assert.That(error, Does.Contain("apt-get install dataset-fashion-mnist").And.Contain("--download"));
        Assert.That(error, Does.Not.Contain("   at "));
    }

    [Test]
    public void A_malformed_data_file_names_the_file()
    {
        using var dir = new TempDirectory();
        IdxFixture.WriteDataSet(dir.Path);
        string labels = IdxFixture.Write(dir.Path, "t10k-labels-idx1-ubyte", IdxFixture.LabelFile([1, 2, 11]), gzip: true);
        var (code, _, error) = CliRunner.Run("train", "--data", dir.Path, "--out", dir.File("out"));
        Assert.That(code, Is.EqualTo(ExitCodes.BadInput));
        Assert.That(error, Is.EqualTo($"sharpmax: error: {labels}: label 11 at index 2 is outside 0..9" + Environment.NewLine));
    }

    [Test]
    public void An_output_directory_that_cannot_be_created_is_a_user_error()
    {
        using var dir = new TempDirectory();
        IdxFixture.WriteDataSet(dir.File("data"));
        File.WriteAllText(dir.File("file"), "not a directory");
        var (code, _, error) = CliRunner.Run("train", "--data", dir.File("data"), "--out", Path.Combine(dir.File("file"), "out"));
        Assert.That(code, Is.EqualTo(ExitCodes.BadInput));
        Assert.That(error, Does.StartWith($"sharpmax: error: --out {Path.Combine(dir.File("file"), "out")}: cannot create the output directory"));
    }

    [Test]
    public void A_bad_checkpoint_is_a_user_error()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("m.ckpt"), "hello");
        foreach (string[] args in new[] { new[] { "eval", "--checkpoint", dir.File("m.ckpt") }, ["predict", "--checkpoint", dir.File("m.ckpt"), "--index", "0"] })
        {
            var (code, _, error) = CliRunner.Run(args);
            Assert.That(code, Is.EqualTo(ExitCodes.BadInput), args[0]);
            Assert.That(error, Is.EqualTo($"sharpmax: error: {dir.File("m.ckpt")}: not a Sharpmax checkpoint (the file does not start with \"SMAXCKPT\")" + Environment.NewLine));
        }
    }

    [Test]
    public void Predict_prints_probabilities_for_a_test_image()
    {
        using var dir = new TempDirectory();
        IdxFixture.WriteDataSet(dir.Path, train: 10, test: 12);
        var bias = new float[10];
        bias[7] = 5; // a model that says "sneaker" whatever it sees
        new Checkpoint(784, 10, new float[7840], bias).Save(dir.File("m.ckpt"));

        var (code, output, error) = CliRunner.Run("predict", "--checkpoint", dir.File("m.ckpt"), "--index", "3", "--data", dir.Path);

        Assert.That(code, Is.Zero, error);
        Assert.That(output, Does.Contain("test image #3, true class: dress"));
        Assert.That(output, Does.Contain("sneaker").And.Contain("<- predicted (wrong)"));
        Assert.That(output, Does.Contain("dress").And.Contain("<- true"));
        // softmax of (0, ..., 5, ..., 0): e^5 / (e^5 + 9)
        Assert.That(output, Does.Contain((Math.Exp(5) / (Math.Exp(5) + 9)).ToString("F6", System.Globalization.CultureInfo.InvariantCulture)));
    }

    [Test]
    public void Predict_gives_the_same_probabilities_for_an_image_file_as_for_its_index()
    {
        using var dir = new TempDirectory();
        IdxFixture.WriteDataSet(dir.Path, train: 10, test: 12);
        var random = new Random(4);
        new Checkpoint(784, 10, Enumerable.Range(0, 7840).Select(_ => (float)random.NextDouble() - 0.5f).ToArray(), new float[10]).Save(dir.File("m.ckpt"));
        byte[] pixels = IdxFixture.Pixels(12).AsSpan(5 * 784, 784).ToArray();
        File.WriteAllBytes(dir.File("x.pgm"), [.. "P5\n28 28\n255\n"u8.ToArray(), .. pixels]);
        using (var bitmap = new SkiaSharp.SKBitmap(new SkiaSharp.SKImageInfo(28, 28, SkiaSharp.SKColorType.Gray8, SkiaSharp.SKAlphaType.Opaque)))
        {
            pixels.CopyTo(bitmap.GetPixelSpan());
            using var png = bitmap.Encode(SkiaSharp.SKEncodedImageFormat.Png, 100);
            File.WriteAllBytes(dir.File("x.png"), png.ToArray());
        }

        static string Table(string output) => output[output.IndexOf("class ", StringComparison.Ordinal)..].Replace("  <- true", "", StringComparison.Ordinal).Replace(" (wrong)", "", StringComparison.Ordinal);
        var byIndex = CliRunner.Run("predict", "--checkpoint", dir.File("m.ckpt"), "--index", "5", "--data", dir.Path);
        var byPgm = CliRunner.Run("predict", "--checkpoint", dir.File("m.ckpt"), "--image", dir.File("x.pgm"));
        var byPng = CliRunner.Run("predict", "--checkpoint", dir.File("m.ckpt"), "--image", dir.File("x.png"));

        Assert.That((byIndex.ExitCode, byPgm.ExitCode, byPng.ExitCode), Is.EqualTo((0, 0, 0)), byIndex.Error + byPgm.Error + byPng.Error);
        Assert.That(Table(byPgm.Out), Is.EqualTo(Table(byIndex.Out)));
        Assert.That(Table(byPng.Out), Is.EqualTo(Table(byIndex.Out)));
    }

    [Test]
    public void Eval_reports_the_test_accuracy_of_a_checkpoint()
    {
        using var dir = new TempDirectory();
        IdxFixture.WriteDataSet(dir.Path, train: 10, test: 20); // labels cycle 0..9
        var bias = new float[10];
        bias[3] = 1; // always class 3: right on 2 of 20 images
        new Checkpoint(784, 10, new float[7840], bias).Save(dir.File("m.ckpt"));

        var (code, output, error) = CliRunner.Run("eval", "--checkpoint", dir.File("m.ckpt"), "--data", dir.Path, "--device", "cpu");

        Assert.That(code, Is.Zero, error);
        // loss = lse(b) − b_y: log(e + 9) − 1 for y = 3, log(e + 9) otherwise
        double loss = Math.Log(Math.E + 9) - 2.0 / 20;
        Assert.That(output, Does.Contain(FormattableString.Invariant($"test loss {loss:F4}, test accuracy 10.00 % (2/20)")));
    }

    [Test]
    public void Predict_rejects_an_index_outside_the_test_set()
    {
        using var dir = new TempDirectory();
        IdxFixture.WriteDataSet(dir.Path, train: 10, test: 12);
        new Checkpoint(784, 10, new float[7840], new float[10]).Save(dir.File("m.ckpt"));
        var (code, _, error) = CliRunner.Run("predict", "--checkpoint", dir.File("m.ckpt"), "--index", "12", "--data", dir.Path);
        Assert.That(code, Is.EqualTo(ExitCodes.BadInput));
        Assert.That(error, Does.Contain("--index 12 is outside the test set (0..11)"));
    }

    [Test]
    public void Predict_rejects_a_checkpoint_of_another_shape()
    {
        using var dir = new TempDirectory();
        new Checkpoint(10, 3, new float[30], new float[3]).Save(dir.File("m.ckpt"));
        File.WriteAllBytes(dir.File("x.pgm"), [.. "P5 28 28 255\n"u8.ToArray(), .. new byte[784]]);
        var (code, _, error) = CliRunner.Run("predict", "--checkpoint", dir.File("m.ckpt"), "--image", dir.File("x.pgm"));
        Assert.That(code, Is.EqualTo(ExitCodes.BadInput));
        Assert.That(error, Does.Contain("the model maps 10 inputs to 3 classes"));
    }

    [Test]
    public void Download_against_a_server_with_other_files_fails_on_the_checksum_and_keeps_nothing()
    {
        // Fixture files are not the official ones, so the published MD5s must reject them.
        var files = new Dictionary<string, byte[]>();
        foreach (string name in Sharpmax.Cli.Data.FashionMnistFiles.Names)
        {
            files[name + ".gz"] = IdxFixture.Gzip(name.Contains("images", StringComparison.Ordinal)
                ? IdxFixture.ImageFile(IdxFixture.Pixels(3)) : IdxFixture.LabelFile([1, 2, 3]));
        }
        using var server = new LoopbackHttpServer(files);
        using var dir = new TempDirectory();
        string target = Path.Combine(dir.Path, "fm");

        var (code, _, error) = CliRunner.Run("train", "--download", "--download-url", server.BaseUrl.ToString(), "--data", target, "--out", dir.File("out"));

        Assert.That(code, Is.EqualTo(ExitCodes.BadInput));
        Assert.That(error, Does.Contain("train-images-idx3-ubyte.gz: MD5").And.Contain("does not match the published 8d4fb7e6c68d591d4c3dfef9ec88bf0d"));
        Assert.That(Directory.GetFiles(target), Is.Empty);
    }

    [Test]
    public void Stability_prints_the_table()
    {
        var (code, output, _) = CliRunner.Run("stability");
        Assert.That(code, Is.Zero);
        Assert.That(output, Does.Contain("shifted+clip").And.Contain("27.63102").And.Contain("NaN"));
    }
}
