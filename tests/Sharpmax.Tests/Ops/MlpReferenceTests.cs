// ReferenceMlp checked on its own, in float64 and without a device: its written-out backward must match central
// finite differences of its own mean loss (h = 1e-6, relative error ~1e-8 for a loss that is smooth away from
// the ReLU kinks: entries whose pre-activations come within 1e-4 of 0 are avoided by the data's scale), and
// one SGD step must be W − lr·dW. The device tests (MlpTests) then trust its values.
using NUnit.Framework;
using Sharpmax.Tests.Reference;

namespace Sharpmax.Tests.Ops;

public sealed class MlpReferenceTests
{
    [Test]
    public void The_reference_gradients_match_finite_differences_of_the_reference_loss()
    {
        int[] sizes = [6, 5, 4, 3];
        const int n = 4;
        var rng = new RandomData(77);
        var x = rng.Matrix(n, sizes[0]).Select(v => (double)v).ToArray();
        var labels = rng.Labels(n, sizes[^1]);
        var layers = Enumerable.Range(0, sizes.Length - 1)
            .Select(l => (W: rng.Matrix(sizes[l], sizes[l + 1]), B: rng.Matrix(1, sizes[l + 1], 0.5))).ToList();
        var step = ReferenceMlp.Step(x, sizes[0], labels, layers, 0.1f);
        const double h = 1e-6;
        int checkedCount = 0;
        for (int l = 0; l < layers.Count; l++)
        {
            foreach (var (tensor, grad, name) in new[] { (layers[l].W, step.WeightGrads[l], "W"), (layers[l].B, step.BiasGrads[l], "b") })
                for (int i = 0; i < tensor.Length; i++)
                {
                    // float32 parameters: perturb a double copy through a loss that takes doubles.
                    double Loss(double delta) => ReferenceLoss(x, sizes, labels, layers, l, name == "W", i, delta);
                    double fd = (Loss(h) - Loss(-h)) / (2 * h);
                    AssertClose.Scalar(grad[i], fd, 1e-7, 1e-5, $"{name}{l + 1}[{i}]");
                    checkedCount++;
                }
        }
        Assert.That(checkedCount, Is.EqualTo(6 * 5 + 5 + 5 * 4 + 4 + 4 * 3 + 3));
        for (int i = 0; i < layers[0].W.Length; i++)
            Assert.That(step.NewWeights[0][i], Is.EqualTo(layers[0].W[i] - (double)0.1f * step.WeightGrads[0][i]).Within(1e-15));
    }

    // The mean cross-entropy of the MLP in float64 with one parameter moved by delta.
    private static double ReferenceLoss(double[] x, int[] sizes, int[] labels, List<(float[] W, float[] B)> layers,
        int layer, bool weight, int entry, double delta)
    {
        int n = labels.Length;
        double[] h = x;
        for (int l = 0; l < layers.Count; l++)
        {
            int kin = sizes[l], cout = sizes[l + 1];
            var z = new double[n * cout];
            for (int i = 0; i < n; i++)
                for (int c = 0; c < cout; c++)
                {
                    double b = layers[l].B[c] + (l == layer && !weight && entry == c ? delta : 0);
                    double sum = b;
                    for (int p = 0; p < kin; p++)
                    {
                        double w = layers[l].W[p * cout + c] + (l == layer && weight && entry == p * cout + c ? delta : 0);
                        sum += h[i * kin + p] * w;
                    }
                    z[i * cout + c] = sum;
                }
            h = l < layers.Count - 1 ? z.Select(v => Math.Max(v, 0)).ToArray() : z;
        }
        int classes = sizes[^1];
        double loss = 0;
        for (int i = 0; i < n; i++)
        {
            var row = h.AsSpan(i * classes, classes).ToArray();
            double max = row.Max();
            loss += Math.Log(row.Sum(v => Math.Exp(v - max))) + max - row[labels[i]];
        }
        return loss / n;
    }
}
