// `sharpmax train --hidden` end to end on the small IDX fixture (fast: 60 images, a few epochs on the CPU device):
// the outputs, the recipe line, a version 2 checkpoint that eval and predict read (checked against the float64
// host model), two runs of one seed giving the same bytes, and one-line usage errors for bad --hidden values.
using System.Globalization;
using NUnit.Framework;
using Sharpmax.Cli;
using Sharpmax.Cli.Data;
using Sharpmax.Cli.Output;
using Sharpmax.Cli.Training;

namespace Sharpmax.Tests.Cli;

public class MlpCliTests
{
    private static readonly int[] s_oneHidden = [784, 32, 10];
    private static readonly int[] s_twoHidden = [784, 12, 8, 10];

    private static (int Code, string Out, string Error) Train(TempDirectory dir, string output, params string[] extra) =>
        CliRunner.Run(["train", "--data", dir.File("data"), "--device", "cpu", "--out", dir.File(output), "--epochs", "3", "--batch-size", "16", .. extra]);

    [Test]
    public void Train_with_one_hidden_layer_writes_every_output_and_a_version_2_checkpoint()
    {
        using var dir = new TempDirectory();
        IdxFixture.WriteDataSet(dir.File("data"), train: 60, test: 20);

        var (code, output, error) = Train(dir, "out", "--hidden", "32");

        Assert.That(code, Is.Zero, error);
        Assert.That(output, Does.Contain(", seed 0, model 784 -> 32 (ReLU) -> 10" + Environment.NewLine), "the recipe line shows the layers");
        foreach (string file in new[] { "metrics.csv", "model.ckpt", "curves.png", "misclassified.png", "confusion.csv", "confusion.png" })
        {
            Assert.That(File.Exists(dir.File("out/" + file)), file);
        }
        Assert.That(MetricsCsv.Read(dir.File("out/metrics.csv")), Has.Count.EqualTo(3));
        var model = Checkpoint.Load(dir.File("out/model.ckpt"));
        Assert.That((model.FormatVersion, model.Sizes, model.Epoch), Is.EqualTo((2, s_oneHidden, 3)));
        Assert.That(OutputFilesTests.PngSize(dir.File("out/curves.png")).Width, Is.GreaterThan(0));
    }

    [Test]
    public void Repeated_hidden_options_stack_layers_in_order()
    {
        using var dir = new TempDirectory();
        IdxFixture.WriteDataSet(dir.File("data"), train: 60, test: 20);

        var (code, output, error) = Train(dir, "out", "--hidden", "12", "--hidden", "8");

        Assert.That(code, Is.Zero, error);
        Assert.That(output, Does.Contain("model 784 -> 12 (ReLU) -> 8 (ReLU) -> 10"));
        Assert.That(Checkpoint.Load(dir.File("out/model.ckpt")).Sizes, Is.EqualTo(s_twoHidden));
    }

    [Test]
    public void Without_hidden_the_recipe_says_softmax_regression_and_the_checkpoint_stays_version_1()
    {
        using var dir = new TempDirectory();
        IdxFixture.WriteDataSet(dir.File("data"), train: 60, test: 20);

        var (code, output, error) = Train(dir, "out");

        Assert.That(code, Is.Zero, error);
        Assert.That(output, Does.Contain(", seed 0, model 784 -> 10 (softmax regression)" + Environment.NewLine));
        Assert.That(Checkpoint.Load(dir.File("out/model.ckpt")).FormatVersion, Is.EqualTo(1));
    }

    [Test]
    public void Eval_and_predict_read_an_mlp_checkpoint_and_agree_with_the_float64_host_model()
    {
        using var dir = new TempDirectory();
        IdxFixture.WriteDataSet(dir.File("data"), train: 60, test: 20);
        Assert.That(Train(dir, "out", "--hidden", "12", "--hidden", "8", "--lr", "0.5").Code, Is.Zero);
        string checkpoint = dir.File("out/model.ckpt");
        var model = Checkpoint.Load(checkpoint);
        var test = FashionMnist.LoadTest(new FashionMnistLocator().Locate(dir.File("data")));

        // The float64 host model (HostModel: relu layers, softmax) over the 20 test images.
        double lossSum = 0;
        int correct = 0;
        for (int i = 0; i < test.Count; i++)
        {
            double[] p = HostModel.Probabilities(model, test.Image(i));
            lossSum -= Math.Log(p[test.Labels[i]]);
            correct += Array.IndexOf(p, p.Max()) == test.Labels[i] ? 1 : 0;
        }
        var eval = CliRunner.Run("eval", "--checkpoint", checkpoint, "--data", dir.File("data"), "--device", "cpu");
        var predict = CliRunner.Run("predict", "--checkpoint", checkpoint, "--index", "3", "--data", dir.File("data"));

        Assert.That(eval.ExitCode, Is.Zero, eval.Error);
        // The device's float32 loss, printed to 4 decimals, against float64: they differ by ~1e-6, far below 5e-5.
        Assert.That(eval.Out, Does.Contain(FormattableString.Invariant($"test loss {lossSum / test.Count:F4}, test accuracy {(double)correct / test.Count:P2} ({correct}/20)")));
        Assert.That(eval.Out, Does.Contain(FormattableString.Invariant($"test accuracy {model.TestAccuracy:P2}")), "the accuracy train measured");
        Assert.That(predict.ExitCode, Is.Zero, predict.Error);
        double[] expected = HostModel.Probabilities(model, test.Image(3));
        for (int c = 0; c < 10; c++)
        {
            Assert.That(predict.Out, Does.Contain($"{FashionMnistClasses.Names[c],-12} {expected[c].ToString("F6", CultureInfo.InvariantCulture),11}"), FashionMnistClasses.Names[c]);
        }
    }

    [Test]
    public void Two_runs_of_one_seed_write_the_same_numbers_and_the_same_checkpoint()
    {
        using var dir = new TempDirectory();
        IdxFixture.WriteDataSet(dir.File("data"), train: 60, test: 20);
        Assert.That(Train(dir, "a", "--hidden", "16", "--seed", "4").Code, Is.Zero);
        Assert.That(Train(dir, "b", "--hidden", "16", "--seed", "4").Code, Is.Zero);
        Assert.That(Train(dir, "c", "--hidden", "16", "--seed", "5").Code, Is.Zero);

        static List<(double, double, double, double, long)> Numbers(string path) =>
            [.. MetricsCsv.Read(path).Select(m => (m.TrainLoss, m.TrainAccuracy, m.TestLoss, m.TestAccuracy, m.HostSynchronizations))];
        Assert.That(Numbers(dir.File("b/metrics.csv")), Is.EqualTo(Numbers(dir.File("a/metrics.csv"))), "every number but the timings, bit for bit");
        Assert.That(File.ReadAllBytes(dir.File("b/model.ckpt")), Is.EqualTo(File.ReadAllBytes(dir.File("a/model.ckpt"))));
        Assert.That(File.ReadAllBytes(dir.File("c/model.ckpt")), Is.Not.EqualTo(File.ReadAllBytes(dir.File("a/model.ckpt"))), "another seed, other weights");
    }

    [TestCase(new[] { "0" }, "--hidden must be between 1 and 4096, not '0'.")]
    [TestCase(new[] { "4097" }, "--hidden must be between 1 and 4096, not '4097'.")]
    [TestCase(new[] { "-3" }, "--hidden must be between 1 and 4096, not '-3'.")]
    [TestCase(new[] { "99999999999" }, "--hidden must be between 1 and 4096, not '99999999999'.")]
    [TestCase(new[] { "2.5" }, "--hidden must be a whole number (digits only), not '2.5'.")]
    [TestCase(new[] { "1,000" }, "--hidden must be a whole number (digits only), not '1,000'.")]
    [TestCase(new[] { "256", "wide" }, "--hidden must be a whole number (digits only), not 'wide'.")]
    [TestCase(new[] { "8", "8", "8", "8", "8", "8", "8", "8", "8" }, "--hidden may be given at most 8 times, not 9.")]
    [TestCase(new string[0], "Required argument missing for option: '--hidden'.")]
    public void A_bad_hidden_value_is_a_one_line_usage_error(string[] values, string expected)
    {
        string[] args = values.Length == 0 ? ["train", "--hidden"] : ["train", .. values.SelectMany(v => new[] { "--hidden", v })];
        var (code, output, error) = CliRunner.Run(args);
        Assert.That(code, Is.EqualTo(ExitCodes.Usage));
        Assert.That(error, Is.EqualTo($"sharpmax: error: {expected}{Environment.NewLine}Run 'sharpmax train --help' for the options.{Environment.NewLine}"));
        Assert.That(error, Does.Not.Contain("   at "), "no stack trace");
        Assert.That(output, Is.Empty);
    }

    [Test]
    public void Hidden_values_given_in_one_token_are_refused()
    {
        var (code, _, error) = CliRunner.Run("train", "--hidden", "256", "128");
        Assert.That(code, Is.EqualTo(ExitCodes.Usage));
        Assert.That(error, Does.Contain("Unrecognized command or argument '128'"));
    }

    [Test]
    public void Train_help_lists_hidden()
    {
        var (_, output, _) = CliRunner.Run("train", "--help");
        Assert.That(output, Does.Contain("--hidden <UNITS>").And.Contain("--hidden 256 --hidden 128"));
    }
}
