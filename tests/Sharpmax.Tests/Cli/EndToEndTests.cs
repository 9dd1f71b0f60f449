using System.Globalization;
using NUnit.Framework;
using Sharpmax.Cli;
using Sharpmax.Cli.Data;
using Sharpmax.Cli.Output;
using Sharpmax.Cli.Training;

namespace Sharpmax.Tests.Cli;

/// <summary>
/// <c>sharpmax train</c> on the CPU device, in-process: the real Fashion-MNIST for one epoch (Debian's
/// dataset-fashion-mnist, which ./build.sh test installs), and small synthetic sets for the failure paths.
/// </summary>
public class EndToEndTests
{
    private static string RealData()
    {
        Assume.That(FashionMnistFiles.TryFind(FashionMnistLocator.DebianDirectory, out _), Is.Not.Null,
            $"Fashion-MNIST is not in {FashionMnistLocator.DebianDirectory}: apt-get install dataset-fashion-mnist");
        return FashionMnistLocator.DebianDirectory;
    }

    [Test]
    public void One_epoch_on_the_real_data_reaches_78_percent_and_writes_every_output()
    {
        string data = RealData();
        using var dir = new TempDirectory();
        // After one epoch the test accuracy still swings with the shuffle: seeds 0–5 give 76.5–79.1 % here and
        // 77.2–79.5 % in bench/reference/train_numpy.py (the same recipe in NumPy). So three seeds must each pass
        // 76 % and reach 78 % on average, instead of one hand-picked seed passing 78 %.
        var accuracies = new List<double>();
        string output = dir.File("seed0");
        foreach (int seed in new[] { 0, 1, 2 })
        {
            string run = dir.File($"seed{seed}");
            var (code, stdout, stderr) = CliRunner.Run("train", "--data", data, "--epochs", "1", "--device", "cpu", "--seed", $"{seed}", "--out", run);
            Assert.That(code, Is.Zero, stderr);
            Assert.That(stdout, Does.Contain("device: CPU device"));
            TestContext.Progress.WriteLine(stdout);
            accuracies.Add(MetricsCsv.Read(Path.Combine(run, MetricsCsv.FileName))[0].TestAccuracy);
        }
        Assert.That(accuracies, Is.All.GreaterThanOrEqualTo(0.76));
        Assert.That(accuracies.Average(), Is.GreaterThanOrEqualTo(0.78));

        var metrics = MetricsCsv.Read(Path.Combine(output, MetricsCsv.FileName));
        Assert.That(File.ReadLines(Path.Combine(output, MetricsCsv.FileName)).First(), Is.EqualTo("epoch,train_loss,train_acc,test_loss,test_acc,seconds,images_per_s,host_syncs"));
        Assert.That(metrics, Has.Count.EqualTo(1));
        Assert.That(metrics[0].TrainLoss, Is.InRange(0.6, 1.0), "d2l's first-epoch train loss is about 0.79");

        Assert.That(OutputFilesTests.PngSize(Path.Combine(output, CurvesPlot.FileName)), Is.EqualTo((720, 480)));
        Assert.That(OutputFilesTests.PngSize(Path.Combine(output, ConfusionMatrix.PngFileName)), Is.EqualTo((820, 760)));
        Assert.That(OutputFilesTests.PngSize(Path.Combine(output, MisclassifiedTile.FileName)), Is.EqualTo((980, 470)), "24 images: 3 rows of 8");

        string[] confusion = File.ReadAllLines(Path.Combine(output, ConfusionMatrix.CsvFileName));
        Assert.That(confusion, Has.Length.EqualTo(11));
        int[][] counts = confusion.Skip(1).Select(l => l.Split(',').Skip(1).Select(v => int.Parse(v, CultureInfo.InvariantCulture)).ToArray()).ToArray();
        Assert.That(counts.Sum(r => r.Sum()), Is.EqualTo(10000));
        Assert.That(Enumerable.Range(0, 10).Sum(i => counts[i][i]) / 10000.0, Is.EqualTo(metrics[0].TestAccuracy), "the diagonal is the accuracy");

        // The checkpoint round-trips: evaluating it gives the accuracy training reported, exactly.
        string checkpoint = Path.Combine(output, TrainingRun.CheckpointFileName);
        var model = Checkpoint.Load(checkpoint);
        Assert.That((model.Epoch, model.TestAccuracy), Is.EqualTo((1, metrics[0].TestAccuracy)));
        var (evalCode, evalOut, evalErr) = CliRunner.Run("eval", "--checkpoint", checkpoint, "--data", data, "--device", "cpu");
        Assert.That(evalCode, Is.Zero, evalErr);
        Assert.That(evalOut, Does.Contain(FormattableString.Invariant($"({(int)Math.Round(metrics[0].TestAccuracy * 10000)}/10000)")));
    }

    [Test]
    public void Naive_and_fused_agree_on_the_first_epoch_loss()
    {
        string data = RealData();
        using var dir = new TempDirectory();
        var loss = new Dictionary<string, EpochMetrics>();
        foreach (string kind in new[] { "fused", "naive" })
        {
            var (code, _, stderr) = CliRunner.Run("train", "--data", data, "--epochs", "1", "--device", "cpu", "--loss", kind, "--out", dir.File(kind), "--quiet");
            Assert.That(code, Is.Zero, stderr);
            loss[kind] = MetricsCsv.Read(Path.Combine(dir.File(kind), MetricsCsv.FileName))[0];
        }
        // Both compute the same float32 softmax and gradient; only the rounding of the loss itself differs (the 1e-12
        // clip never binds in this training), so the mean over 60 000 images agrees to far better than 1e-5
        // (measured: about 1e-10).
        Assert.That(loss["naive"].TrainLoss, Is.EqualTo(loss["fused"].TrainLoss).Within(1e-5));
        Assert.That(loss["naive"].TestAccuracy, Is.EqualTo(loss["fused"].TestAccuracy).Within(0.002));
    }

    [Test]
    public void The_same_seed_writes_the_same_metrics()
    {
        using var dir = new TempDirectory();
        IdxFixture.WriteDataSet(dir.File("data"), train: 100, test: 30);
        var rows = new List<List<EpochMetrics>>();
        foreach (string run in new[] { "a", "b" })
        {
            var (code, _, stderr) = CliRunner.Run("train", "--data", dir.File("data"), "--epochs", "2", "--batch-size", "32", "--seed", "11", "--device", "cpu", "--out", dir.File(run));
            Assert.That(code, Is.Zero, stderr);
            rows.Add(MetricsCsv.Read(Path.Combine(dir.File(run), MetricsCsv.FileName)));
        }
        Assert.That(rows[1].Select(m => m with { Seconds = 0, ImagesPerSecond = 0 }), Is.EqualTo(rows[0].Select(m => m with { Seconds = 0, ImagesPerSecond = 0 })));
    }

    [Test]
    public void A_diverging_run_stops_and_leaves_an_earlier_run_untouched()
    {
        using var dir = new TempDirectory();
        string data = dir.File("data"), output = dir.File("out");
        IdxFixture.WriteDataSet(data, train: 100, test: 30);
        Assert.That(CliRunner.Run("train", "--data", data, "--epochs", "1", "--device", "cpu", "--out", output).ExitCode, Is.Zero);
        string checkpoint = Path.Combine(output, TrainingRun.CheckpointFileName);
        byte[] good = File.ReadAllBytes(checkpoint);

        // lr 1e38 overflows the weights to infinity in the first steps, and the loss becomes NaN.
        var (code, _, stderr) = CliRunner.Run("train", "--data", data, "--epochs", "2", "--lr", "1e38", "--device", "cpu", "--out", dir.File("out2"));

        Assert.That(code, Is.EqualTo(ExitCodes.Diverged));
        Assert.That(stderr, Does.StartWith("sharpmax: error: training stopped: the ").And.Contain("is NaN").And.Contain("Try a smaller --lr"));
        Assert.That(stderr, Does.Not.Contain("   at "));
        Assert.That(File.ReadAllBytes(checkpoint), Is.EqualTo(good), "the good checkpoint is neither overwritten nor damaged");
    }

    [Test]
    public void A_run_shorter_than_a_batch_trains_on_one_partial_batch()
    {
        using var dir = new TempDirectory();
        IdxFixture.WriteDataSet(dir.File("data"), train: 10, test: 5);
        var (code, stdout, stderr) = CliRunner.Run("train", "--data", dir.File("data"), "--epochs", "1", "--batch-size", "256", "--device", "cpu", "--out", dir.File("out"));
        Assert.That(code, Is.Zero, stderr);
        Assert.That(stdout, Does.Contain("10 training images, 1 epochs, batch 10 (--batch-size 256 is more than the training set), lr 0.1,"), "the recipe line says the batch actually used");
        Assert.That(MetricsCsv.Read(Path.Combine(dir.File("out"), MetricsCsv.FileName)), Has.Count.EqualTo(1));
    }
}
