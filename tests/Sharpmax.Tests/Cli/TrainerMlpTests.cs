// The trainer with --hidden on every device: one SGD step of the MLP against ReferenceMlp's float64 step (its
// per-element bounds are a running error analysis of a float32 device, see Reference/ReferenceMlp.cs), the same
// seed giving bitwise the same run, and no managed allocation that grows with the number of batches.
using NUnit.Framework;
using Sharpmax.Cli.Data;
using Sharpmax.Cli.Training;
using Sharpmax.Tests.Reference;

namespace Sharpmax.Tests.Cli;

[TestFixture(DeviceKind.Cpu)]
[TestFixture(DeviceKind.Cuda)]
public sealed class TrainerMlpTests(DeviceKind kind) : DeviceTestBase(kind)
{
    private const int K = 784, C = 10;

    private static FashionMnist Synthetic(int train, int test, int seed) => SyntheticData.RandomImages(train, test, seed);

    [TestCase(new[] { 32 })]
    [TestCase(new[] { 24, 16 })]
    public void One_batch_epoch_is_the_float64_reference_step(int[] hidden)
    {
        // 40 images in one batch of 64: the epoch is exactly one SGD step on every image, in shuffled order.
        var data = Synthetic(40, 8, seed: 11);
        var settings = new TrainSettings { HiddenSizes = hidden, BatchSize = 64, LearningRate = 0.5f, Seed = 5 };
        int[] sizes = settings.LayerSizes(K, C);

        // The trainer's draws: every layer's W ~ N(0, 0.01²) in layer, row-major order, then the epoch's shuffle.
        var random = new SeededRandom(settings.Seed);
        var layers = new List<(float[] W, float[] B)>();
        for (int l = 0; l + 1 < sizes.Length; l++)
        {
            var w = new float[sizes[l] * sizes[l + 1]];
            for (int i = 0; i < w.Length; i++)
            {
                w[i] = (float)(TrainSettings.InitialWeightStd * random.NextGaussian());
            }
            layers.Add((w, new float[sizes[l + 1]]));
        }
        int[] order = Enumerable.Range(0, data.Train.Count).ToArray();
        random.Shuffle(order);
        double[] x = order.SelectMany(i => data.Train.Image(i).ToArray().Select(p => p / 255.0)).ToArray();
        int[] labels = order.Select(i => (int)data.Train.Labels[i]).ToArray();
        var step = ReferenceMlp.Step(x, K, labels, layers, settings.LearningRate);

        using var trainer = new Trainer(Device, data, settings);
        var metrics = trainer.RunEpoch(1);
        var model = trainer.Checkpoint(metrics);

        Assert.That(model.Sizes, Is.EqualTo(sizes));
        for (int l = 0; l < model.Layers.Count; l++)
        {
            AssertWithin.Tensor(model.Layers[l].Weights, step.NewWeights[l], step.NewWeightBounds[l], $"W{l + 1} after the step", cols: sizes[l + 1]);
            AssertWithin.Tensor(model.Layers[l].Bias, step.NewBiases[l], step.NewBiasBounds[l], $"b{l + 1} after the step");
        }
        // The loss of logits ~1e-4 in size: float32 rounding of log-sum-exp over 10 classes stays below 1e-6.
        Assert.That(metrics.TrainLoss, Is.EqualTo(step.Loss).Within(1e-5), "mean train loss, measured before the step");
    }

    [Test]
    public void The_same_seed_gives_bitwise_the_same_mlp_run()
    {
        var data = Synthetic(300, 40, seed: 5);
        var settings = new TrainSettings { HiddenSizes = [16, 12], BatchSize = 32, Seed = 7 };
        var first = Train(data, settings, epochs: 2);
        var second = Train(data, settings, epochs: 2);
        var other = Train(data, settings with { Seed = 8 }, epochs: 2);

        Assert.That(second.Metrics, Is.EqualTo(first.Metrics), "losses and accuracies, bit for bit");
        Assert.That(second.Checkpoint, Is.EqualTo(first.Checkpoint), "model.ckpt bytes");
        Assert.That(other.Metrics, Is.Not.EqualTo(first.Metrics), "another seed shuffles and initialises differently");
    }

    [Test]
    public void Every_read_interval_gives_bitwise_the_same_mlp_run()
    {
        var data = Synthetic(200, 30, seed: 6);
        var settings = new TrainSettings { HiddenSizes = [16], BatchSize = 16, Seed = 2 };
        var once = Train(data, settings, epochs: 2);
        var everyBatch = Train(data, settings with { SyncEvery = 1 }, epochs: 2);
        Assert.That(everyBatch.Metrics, Is.EqualTo(once.Metrics), "losses and accuracies, bit for bit");
        Assert.That(everyBatch.Checkpoint, Is.EqualTo(once.Checkpoint), "model.ckpt bytes");
    }

    [Test]
    public void The_evaluator_agrees_with_the_float64_host_model_on_an_mlp()
    {
        var data = Synthetic(64, 2100, seed: 9);
        var settings = new TrainSettings { HiddenSizes = [20], BatchSize = 16, LearningRate = 0.5f, Seed = 1 };
        using var trainer = new Trainer(Device, data, settings);
        var model = trainer.Checkpoint(trainer.RunEpoch(1));

        var onDevice = trainer.Evaluator.Evaluate(model, withPredictions: true);

        double lossSum = 0;
        for (int i = 0; i < data.Test.Count; i++)
        {
            double[] p = HostModel.Probabilities(model, data.Test.Image(i));
            lossSum -= Math.Log(p[data.Test.Labels[i]]);
            int predicted = Array.IndexOf(p, p.Max());
            // Predictions may differ only where two classes are within float32 rounding of each other.
            if (onDevice.Predictions![i] != predicted)
            {
                Assert.That(p[onDevice.Predictions[i]], Is.EqualTo(p[predicted]).Within(1e-5), $"image {i}");
            }
        }
        // float32 logits of this size carry ~1e-6 relative rounding; the mean loss over 2100 images agrees to 1e-5.
        Assert.That(onDevice.Loss, Is.EqualTo(lossSum / data.Test.Count).Within(1e-5), "2100 images span two evaluation chunks");
        Assert.That(trainer.Evaluator.Evaluate(model, withPredictions: false).Loss, Is.EqualTo(onDevice.Loss), "the checkpoint path evaluates the same bits");
    }

    [Test]
    public void An_epoch_allocates_no_more_managed_memory_for_more_batches()
    {
        var data = Synthetic(480, 20, seed: 2);
        long Allocated(int batchSize)
        {
            using var trainer = new Trainer(Device, data, new TrainSettings { HiddenSizes = [16], BatchSize = batchSize, Seed = 3 });
            trainer.RunEpoch(1); // warm-up: kernels bound, workspaces sized
            long before = GC.GetAllocatedBytesForCurrentThread();
            trainer.RunEpoch(2);
            return GC.GetAllocatedBytesForCurrentThread() - before;
        }
        long few = Allocated(240), many = Allocated(8); // 2 batches, 60 batches
        Assert.That(many, Is.LessThanOrEqualTo(few), $"an epoch of 60 batches allocated {many} B, one of 2 batches {few} B: something allocates per batch");
    }

    private (List<(double, double, double, double)> Metrics, byte[] Checkpoint) Train(FashionMnist data, TrainSettings settings, int epochs)
    {
        using var trainer = new Trainer(Device, data, settings);
        var metrics = new List<EpochMetrics>();
        for (int e = 1; e <= epochs; e++)
        {
            metrics.Add(trainer.RunEpoch(e));
        }
        return (metrics.Select(m => (m.TrainLoss, m.TrainAccuracy, m.TestLoss, m.TestAccuracy)).ToList(), trainer.Checkpoint(metrics[^1]).ToBytes());
    }
}
