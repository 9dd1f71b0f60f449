using NUnit.Framework;
using Sharpmax.Cli;
using Sharpmax.Cli.Data;
using Sharpmax.Cli.Output;
using Sharpmax.Cli.Training;

namespace Sharpmax.Tests.Cli;

/// <summary>
/// The trainer reads its device-side results every <see cref="TrainSettings.SyncEvery"/> batches, by default once
/// per epoch: few copies per epoch whatever the batch count, the same numbers for every K, and errors that still
/// name the batch that caused them.
/// </summary>
[TestFixture(DeviceKind.Cpu)]
[TestFixture(DeviceKind.Cuda)]
public sealed class TrainerSyncTests(DeviceKind kind) : DeviceTestBase(kind)
{
    /// <summary>A small data set written as IDX files and read back as the CLI reads it.</summary>
    private static FashionMnist IdxData(int train, int test)
    {
        using var dir = new TempDirectory();
        IdxFixture.WriteDataSet(dir.Path, train, test);
        return FashionMnist.Load(FashionMnistFiles.TryFind(dir.Path, out _)!);
    }

    private static EpochMetrics WithoutTimings(EpochMetrics m) => m with { Seconds = 0, ImagesPerSecond = 0, HostSynchronizations = 0 };

    private (List<EpochMetrics> Metrics, Checkpoint Model) Train(FashionMnist data, TrainSettings settings, int epochs)
    {
        using var trainer = new Trainer(Device, data, settings);
        var metrics = Enumerable.Range(1, epochs).Select(e => trainer.RunEpoch(e)).ToList();
        return (metrics, trainer.Checkpoint(metrics[^1]));
    }

    [TestCase(8)]
    [TestCase(4)]
    public void One_epoch_makes_a_handful_of_device_to_host_copies_not_one_per_batch(int batchSize)
    {
        var data = IdxData(train: 120, test: 30);
        using var trainer = new Trainer(Device, data, new TrainSettings { BatchSize = batchSize, Seed = 3 });
        int batches = 120 / batchSize;

        var before = Device.OperationCounts;
        var metrics = trainer.RunEpoch(1);
        var counts = Device.OperationCounts - before;

        TestContext.Progress.WriteLine($"{batches} batches: {counts}");
        // The loss totals and the correct count of training, the same two of the evaluation.
        Assert.That(counts.DeviceToHostCopies, Is.EqualTo(4), counts.ToString());
        // The shuffled index is the one upload; nothing waits for the device but these five.
        Assert.That(counts.HostSynchronizations, Is.EqualTo(5), counts.ToString());
        Assert.That(metrics.HostSynchronizations, Is.EqualTo(counts.HostSynchronizations), "the metrics.csv column");
        // Softmax regression's batch: the label gather, the fused step (the correct count within), the loss reduction,
        // the update.
        Assert.That(counts.Launches, Is.GreaterThanOrEqualTo(4 * batches), "every batch still ran its kernels");
    }

    [Test]
    public void Every_read_interval_gives_bitwise_the_same_metrics_and_weights_over_two_epochs()
    {
        var data = IdxData(train: 100, test: 20);
        var settings = new TrainSettings { BatchSize = 16, LearningRate = 0.3f, Seed = 9 };  // 7 batches, the last of 4
        var (perBatch, perBatchModel) = Train(data, settings with { SyncEvery = 1 }, epochs: 2);
        var (perEpoch, perEpochModel) = Train(data, settings, epochs: 2);
        var (everyThree, _) = Train(data, settings with { SyncEvery = 3 }, epochs: 2);

        Assert.That(perEpoch.Select(WithoutTimings), Is.EqualTo(perBatch.Select(WithoutTimings)), "losses and accuracies, bit for bit");
        Assert.That(everyThree.Select(WithoutTimings), Is.EqualTo(perBatch.Select(WithoutTimings)));
        Assert.That(perEpochModel.Weights, Is.EqualTo(perBatchModel.Weights));
        Assert.That(perEpochModel.Bias, Is.EqualTo(perBatchModel.Bias));
        // Reading after every batch costs one wait per batch but the last, which the default read covers.
        Assert.That(perBatch.Select(m => m.HostSynchronizations - perEpoch[0].HostSynchronizations), Is.All.EqualTo(6));
        Assert.That(everyThree.Select(m => m.HostSynchronizations - perEpoch[0].HostSynchronizations), Is.All.EqualTo(2), "after batches 3 and 6");
    }

    [Test]
    public void Divergence_found_at_the_end_of_the_epoch_names_the_batch_that_diverged()
    {
        var data = IdxData(train: 160, test: 20);
        var settings = new TrainSettings { BatchSize = 16, LearningRate = 3e38f, Seed = 1 };  // 10 batches

        // Reading after every batch stops right after the diverging one: the batches run are its number.
        int ranPerBatch = 0;
        using (var perBatch = new Trainer(Device, data, settings with { SyncEvery = 1 }))
        {
            var e = Assert.Throws<TrainingDivergedException>(() => perBatch.RunEpoch(1, (_, _) => ranPerBatch++))!;
            Assert.That(e.Message, Does.Match($"^the loss of batch {ranPerBatch} of 10 in epoch 1 is (NaN|-?Infinity)$"));
        }
        Assert.That(ranPerBatch, Is.InRange(2, 9), "the first batch has the small initial weights; a later one diverges");

        int ranPerEpoch = 0;
        using var perEpoch = new Trainer(Device, data, settings);
        var late = Assert.Throws<TrainingDivergedException>(() => perEpoch.RunEpoch(1, (_, _) => ranPerEpoch++))!;
        Assert.That(ranPerEpoch, Is.EqualTo(10), "found once, after the last batch");
        Assert.That(late.Message, Does.StartWith($"the loss of batch {ranPerBatch} of 10 in epoch 1 is "));
    }

    [Test]
    public void A_bad_label_found_at_the_end_of_the_epoch_names_the_image_and_its_batch()
    {
        var good = IdxData(train: 64, test: 10);
        var labels = (byte[])good.Train.Labels.Clone();
        labels[37] = 12;
        labels[50] = 200;  // also bad: the first bad batch in shuffled order is the one reported
        var data = good with { Train = new LabeledImages(good.Train.Pixels, labels) };
        var settings = new TrainSettings { BatchSize = 8, Seed = 4 };  // 8 batches

        int ranPerBatch = 0;
        string perBatchMessage;
        using (var perBatch = new Trainer(Device, data, settings with { SyncEvery = 1 }))
        {
            perBatchMessage = Assert.Throws<UserErrorException>(() => perBatch.RunEpoch(1, (_, _) => ranPerBatch++))!.Message;
        }
        Assert.That(perBatchMessage, Does.Match($@"^training stopped: training image (37|50) \(row [0-7] of batch {ranPerBatch} of 8 in epoch 1\) has label (12|200), outside \[0, 10\)$"));
        Assert.That(perBatchMessage.Contains("image 37", StringComparison.Ordinal) == perBatchMessage.Contains("label 12", StringComparison.Ordinal),
            "the label named is the image's");

        using var perEpoch = new Trainer(Device, data, settings);
        var late = Assert.Throws<UserErrorException>(() => perEpoch.RunEpoch(1))!;
        Assert.That(late.Message, Is.EqualTo(perBatchMessage));
    }

    [Test]
    public void A_stop_request_reads_the_totals_first_so_an_earlier_error_is_not_hidden()
    {
        var data = IdxData(train: 160, test: 20);
        using var stop = new CancellationTokenSource();
        using var trainer = new Trainer(Device, data, new TrainSettings { BatchSize = 16, LearningRate = 3e38f, Seed = 1 });
        int ran = 0;
        // Stop after batch 9 of 10: by then the loss has diverged, which is what must be reported.
        Assert.That(() => trainer.RunEpoch(1, (_, _) => { if (++ran == 9) stop.Cancel(); }, stop.Token),
            Throws.TypeOf<TrainingDivergedException>().With.Message.Contains("of 10 in epoch 1"));
    }
}

/// <summary><c>--sync-every</c> on the command line and the <c>host_syncs</c> column of metrics.csv.</summary>
public sealed class SyncEveryCliTests
{
    private static int[] HostSyncs(string data, string output, params string[] extra)
    {
        var (code, _, error) = CliRunner.Run(["train", "--data", data, "--epochs", "2", "--device", "cpu", "--quiet", "--out", output, .. extra]);
        Assert.That(code, Is.Zero, error);
        Assert.That(File.ReadLines(Path.Combine(output, MetricsCsv.FileName)).First(), Does.EndWith(",host_syncs"));
        return MetricsCsv.Read(Path.Combine(output, MetricsCsv.FileName)).Select(m => (int)m.HostSynchronizations).ToArray();
    }

    [Test]
    public void Metrics_csv_counts_the_host_synchronizations_of_each_epoch()
    {
        using var dir = new TempDirectory();
        IdxFixture.WriteDataSet(dir.File("data"), train: 40, test: 20);
        // Ten batches or five: the default reads once per epoch, so the count does not grow with the batches.
        Assert.That(HostSyncs(dir.File("data"), dir.File("a"), "--batch-size", "4"), Is.EqualTo((int[])[5, 5]));
        Assert.That(HostSyncs(dir.File("data"), dir.File("b"), "--batch-size", "8"), Is.EqualTo((int[])[5, 5]));
        // Reading after every batch: one more wait for each of the nine batches before the last.
        Assert.That(HostSyncs(dir.File("data"), dir.File("c"), "--batch-size", "4", "--sync-every", "1"), Is.EqualTo((int[])[14, 14]));
    }

    [TestCase("0", "--sync-every must be between 1 and 2147483647, not '0'.")]
    [TestCase("-2", "--sync-every must be between 1 and 2147483647, not '-2'.")]
    [TestCase("1e3", "--sync-every must be a whole number (digits only), not '1e3'.")]
    [TestCase("1,000", "--sync-every must be a whole number (digits only), not '1,000'.")]
    public void A_bad_sync_interval_is_a_usage_error(string value, string expected)
    {
        var (code, output, error) = CliRunner.Run("train", "--sync-every", value);
        Assert.That(code, Is.EqualTo(ExitCodes.Usage));
        Assert.That(error, Does.Contain(expected));
        Assert.That(error, Does.Not.Contain("   at "), "no stack trace");
        Assert.That(output, Is.Empty);
    }
}
