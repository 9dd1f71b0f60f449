using NUnit.Framework;
using Sharpmax.Cli.Data;
using Sharpmax.Cli.Training;

namespace Sharpmax.Tests.Cli;

[TestFixture(DeviceKind.Cpu)]
[TestFixture(DeviceKind.Cuda)]
public sealed class TrainerTests(DeviceKind kind) : DeviceTestBase(kind)
{
    private const int K = 784, C = 10;

    private static FashionMnist Synthetic(int train, int test, int seed) => SyntheticData.RandomImages(train, test, seed);

    // 50 images in batches of 16: three full batches and a last one of 2, which must be averaged over its own 2 rows.
    [TestCase(LossKind.Fused, 0f, 0f)]
    [TestCase(LossKind.Naive, 0f, 0f)]
    [TestCase(LossKind.Fused, 0.1f, 0.01f)]
    [TestCase(LossKind.Naive, 0.1f, 0.01f)]
    public void One_epoch_matches_a_float64_reference_of_the_recipe(LossKind loss, float labelSmoothing, float weightDecay)
    {
        var data = Synthetic(50, 8, seed: 3);
        var settings = new TrainSettings { BatchSize = 16, LearningRate = 0.5f, Loss = loss, LabelSmoothing = labelSmoothing, WeightDecay = weightDecay, Seed = 42 };
        var (refWeights, refBias, refLoss) = ReferenceEpoch(data.Train, settings);

        using var trainer = new Trainer(Device, data, settings);
        var metrics = trainer.RunEpoch(1);
        var model = trainer.Checkpoint(metrics);

        // float32 sums of 784 products of values below 1 carry a relative rounding of about 1e-6; after 4 SGD
        // steps with lr 0.5 that stays far below 1e-5 absolute on weights of size ~0.01–1.
        Reference.AssertClose.Tensor(model.Weights, refWeights, atol: 1e-5, rtol: 1e-4, "W after one epoch", cols: C);
        Reference.AssertClose.Tensor(model.Bias, refBias, atol: 1e-5, rtol: 1e-4, "b after one epoch");
        Reference.AssertClose.Scalar(metrics.TrainLoss, refLoss, atol: 1e-5, rtol: 1e-5, "mean train loss");
    }

    [Test]
    public void The_same_seed_gives_bitwise_the_same_metrics_and_weights()
    {
        var data = Synthetic(300, 40, seed: 5);
        var settings = new TrainSettings { BatchSize = 32, Seed = 7 };
        var (first, firstModel) = Train(data, settings, epochs: 3);
        var (second, secondModel) = Train(data, settings, epochs: 3);
        var (other, _) = Train(data, settings with { Seed = 8 }, epochs: 3);

        Assert.That(second, Is.EqualTo(first), "losses and accuracies, bit for bit");
        Assert.That(secondModel.Weights, Is.EqualTo(firstModel.Weights));
        Assert.That(other, Is.Not.EqualTo(first), "another seed shuffles and initialises differently");
    }

    [Test]
    public void The_evaluator_agrees_with_the_host_model()
    {
        var data = Synthetic(20, 3000, seed: 9);
        var settings = new TrainSettings { BatchSize = 8, LearningRate = 0.05f, Seed = 1 };
        using var trainer = new Trainer(Device, data, settings);
        var model = trainer.Checkpoint(trainer.RunEpoch(1));

        var result = trainer.Evaluator.Evaluate(model, withPredictions: true);

        double lossSum = 0;
        int correct = 0;
        for (int i = 0; i < data.Test.Count; i++)
        {
            double[] p = HostModel.Probabilities(model, data.Test.Image(i));
            lossSum -= Math.Log(p[data.Test.Labels[i]]);
            int predicted = Array.IndexOf(p, p.Max());
            correct += predicted == data.Test.Labels[i] ? 1 : 0;
            // Predictions may differ only where two classes are within float32 rounding of each other.
            if (result.Predictions![i] != predicted)
            {
                Assert.That(p[result.Predictions[i]], Is.EqualTo(p[predicted]).Within(1e-5), $"image {i}");
            }
        }
        Assert.That(result.Loss, Is.EqualTo(lossSum / data.Test.Count).Within(1e-5), "3000 images span two evaluation chunks");
        Assert.That(result.Correct, Is.EqualTo(correct).Within(2));
    }

    private (List<(double, double, double, double)> Metrics, Sharpmax.Cli.Output.Checkpoint Model) Train(FashionMnist data, TrainSettings settings, int epochs)
    {
        using var trainer = new Trainer(Device, data, settings);
        var metrics = new List<EpochMetrics>();
        for (int e = 1; e <= epochs; e++)
        {
            metrics.Add(trainer.RunEpoch(e));
        }
        return (metrics.Select(m => (m.TrainLoss, m.TrainAccuracy, m.TestLoss, m.TestAccuracy)).ToList(), trainer.Checkpoint(metrics[^1]));
    }

    /// <summary>The recipe in float64 on the host, drawing the same initial weights and shuffle from the same seed.</summary>
    private static (double[] W, double[] B, double Loss) ReferenceEpoch(LabeledImages train, TrainSettings s)
    {
        var random = new SeededRandom(s.Seed);
        var w = new double[K * C];
        for (int i = 0; i < w.Length; i++)
        {
            w[i] = (float)(TrainSettings.InitialWeightStd * random.NextGaussian()); // the device starts from float32 weights
        }
        var b = new double[C];
        int[] order = Enumerable.Range(0, train.Count).ToArray();
        random.Shuffle(order);
        double eps = s.LabelSmoothing, lossSum = 0;
        for (int start = 0; start < train.Count; start += s.BatchSize)
        {
            int n = Math.Min(s.BatchSize, train.Count - start);
            var dw = new double[K * C];
            var db = new double[C];
            for (int r = 0; r < n; r++)
            {
                int image = order[start + r];
                var x = train.Image(image).ToArray().Select(v => v / 255.0).ToArray();
                var z = new double[C];
                for (int c = 0; c < C; c++)
                {
                    z[c] = b[c];
                    for (int k = 0; k < K; k++)
                    {
                        z[c] += x[k] * w[k * C + c];
                    }
                }
                double max = z.Max();
                double lse = max + Math.Log(z.Sum(v => Math.Exp(v - max)));
                int y = train.Labels[image];
                // −log p_c, clipped for the naive loss as d2l's from-scratch version does: p below 1e-12 counts as 1e-12.
                double Nll(double zc) => s.Loss == LossKind.Naive ? -Math.Log(Math.Max(Math.Exp(zc - lse), 1e-12)) : lse - zc;
                lossSum += (1 - eps) * Nll(z[y]) + eps * z.Average(Nll);
                for (int c = 0; c < C; c++)
                {
                    double g = (Math.Exp(z[c] - lse) - ((c == y ? 1 - eps : 0) + eps / C)) / n;
                    db[c] += g;
                    for (int k = 0; k < K; k++)
                    {
                        dw[k * C + c] += x[k] * g;
                    }
                }
            }
            for (int i = 0; i < w.Length; i++)
            {
                w[i] -= s.LearningRate * (dw[i] + s.WeightDecay * w[i]);
            }
            for (int c = 0; c < C; c++)
            {
                b[c] -= s.LearningRate * db[c]; // weight decay applies to W only
            }
        }
        return (w, b, lossSum / train.Count);
    }
}
