// Float64 cross-entropy (with label smoothing) accurate to float64 rounding on every row, also where the float
// formulas cancel: the loss and the label's gradient of a confident, correct row (label at the row max).
//
//   rest_r = Σ_{j≠y} exp(x_j − x_y)      when x_y is the row max (then rest < C, nothing overflows)
//   nll_r  = log1p(rest_r)               (= lse − x_y, without the cancellation of lse − x_y)
//   p_y − 1 = −rest_r / (1 + rest_r)     (without the cancellation of p_y − 1)
// Other rows have another entry at the max, so Σ_{j≠y} exp(x_j − m) ≥ 1, nll ≥ log 2 and p_y ≤ 1/2: the plain
// formulas of ReferenceOps.CrossEntropy lose nothing there. Only the loss and gradient of the reduced mean.
namespace Sharpmax.Tests.Reference;

/// <param name="RowLoss">Per-row losses (0 for an ignored row).</param>
/// <param name="Gradient">N×C gradient of the mean (times gradScale).</param>
/// <param name="Lse">Per-row log-sum-exp.</param>
/// <param name="P">N×C softmax (for the tests' cancellation floors).</param>
public sealed record AccurateCrossEntropyReference(double[] RowLoss, double[] Gradient, double[] Lse, double[] P);

public static class ReferenceAccurateCrossEntropy
{
    /// <summary>Mean-reduced cross-entropy of float32 logits, every row finite; labels in [0, C) or the ignore index.</summary>
    public static AccurateCrossEntropyReference Compute(ReadOnlySpan<float> logits, ReadOnlySpan<int> labels, int n, int c,
        double smoothing, double gradScale, int ignoreIndex = ReferenceOps.DefaultIgnoreIndex)
    {
        int count = 0;
        for (int r = 0; r < n; r++)
            count += labels[r] != ignoreIndex ? 1 : 0;
        double scale = count == 0 ? 0 : gradScale / count;
        var rowLoss = new double[n];
        var lse = new double[n];
        var gradient = new double[(long)n * c];
        var probability = new double[(long)n * c];
        for (int r = 0; r < n; r++)
        {
            var x = logits.Slice(r * c, c);
            int y = labels[r];
            double max = double.NegativeInfinity;
            foreach (float v in x)
                max = Math.Max(max, v);
            bool labelAtMax = y != ignoreIndex && x[y] == max;
            // Σ_{j≠y} exp(x_j − m) when the label holds the max, else Σ_j exp(x_j − m)
            var sum = new CompensatedSum();
            for (int j = 0; j < c; j++)
                if (!(labelAtMax && j == y))
                    sum.Add(Math.Exp(x[j] - max));
            double rest = sum.Value;
            double s = labelAtMax ? 1 + rest : rest;
            double logSum = labelAtMax ? Log1P(rest) : Math.Log(rest);
            lse[r] = max + logSum;
            for (int j = 0; j < c; j++)
                probability[(long)r * c + j] = Math.Exp(x[j] - max) / s;
            if (y == ignoreIndex)
                continue;
            double nll = (max - x[y]) + logSum;
            double loss = nll;
            if (smoothing != 0)
            {
                var spread = new CompensatedSum();
                foreach (float v in x)
                    spread.Add(max - v);
                loss = (1 - smoothing) * nll + smoothing * (logSum + spread.Value / c);
            }
            rowLoss[r] = loss;
            for (int j = 0; j < c; j++)
            {
                double p = probability[(long)r * c + j];
                double g = j == y
                    ? (labelAtMax ? smoothing * (1 - 1.0 / c) - rest / s : p - (1 - smoothing) - smoothing / c)
                    : p - smoothing / c;
                gradient[(long)r * c + j] = g * scale;
            }
        }
        return new AccurateCrossEntropyReference(rowLoss, gradient, lse, probability);
    }

    /// <summary>log(1 + x) for x ≥ 0 to float64 rounding (the series where 1 + x would round x away).</summary>
    public static double Log1P(double x) => x < 1e-4 ? x * (1 - x * (0.5 - x * (1.0 / 3 - x * 0.25))) : Math.Log(1 + x);
}
