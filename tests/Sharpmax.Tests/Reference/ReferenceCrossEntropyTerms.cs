// Float64 reference for the fused cross-entropy's optional terms (z-loss, logit softcapping, class weights),
// written from their definitions (docs/softmax-and-cross-entropy.md), not from the kernels:
//
//   x'_j    = cap·tanh(x_j / cap)                    (cap = 0: x'_j = x_j)
//   lse     = log Σ_j exp(x'_j)
//   loss_r  = (1 − ε)·w_y·(lse − x'_y) + (ε/C)·Σ_j w_j·(lse − x'_j) + z·lse²     (0 for an ignored row)
//   mean    = Σ_r loss_r / Σ_r w_{y_r} over non-ignored rows (0 when that is 0); sum: Σ_r loss_r
//   grad_rj = ∂(reduced loss)/∂x_rj, by the chain rule through x'
//
//   var r = ReferenceCrossEntropyTerms.Compute(logits, labels, n, c, new CrossEntropyTerms { ZLoss = 1e-4 });
//   r.RowLoss, r.Loss, r.Gradient, r.Lse, r.ZLoss
namespace Sharpmax.Tests.Reference;

/// <summary>The settings of <see cref="ReferenceCrossEntropyTerms.Compute(ReadOnlySpan{float}, ReadOnlySpan{int}, int, int, CrossEntropyTerms)"/>.</summary>
public sealed record CrossEntropyTerms
{
    public RefReduction Reduction { get; init; } = RefReduction.Mean;
    public int IgnoreIndex { get; init; } = ReferenceOps.DefaultIgnoreIndex;
    public double LabelSmoothing { get; init; }
    public double ZLoss { get; init; }
    public double Softcap { get; init; }
    public double[]? Weights { get; init; }
}

/// <param name="RowLoss">Per-row losses, the z-loss term included.</param>
/// <param name="Loss">The reduced loss (None: the sum).</param>
/// <param name="Gradient">N×C gradient of the reduced loss (None: of the sum).</param>
/// <param name="Lse">Per-row log-sum-exp of the (capped) logits, ignored rows included.</param>
/// <param name="ZLoss">Per-row z·lse² (0 for ignored rows).</param>
/// <param name="Divisor">What a mean divides by (Σ w_y, or the count); 1 for Sum and None.</param>
public sealed record CrossEntropyTermsReference(double[] RowLoss, double Loss, double[] Gradient, double[] Lse, double[] ZLoss, double Divisor);

public static class ReferenceCrossEntropyTerms
{
    /// <summary>The loss and gradient of float32 logits.</summary>
    public static CrossEntropyTermsReference Compute(ReadOnlySpan<float> logits, ReadOnlySpan<int> labels, int n, int c, CrossEntropyTerms terms)
    {
        var x = new double[logits.Length];
        for (int i = 0; i < x.Length; i++)
            x[i] = logits[i];
        return Compute(x, labels, n, c, terms);
    }

    /// <summary>The loss and gradient of float64 logits (for finite differences).</summary>
    public static CrossEntropyTermsReference Compute(double[] logits, ReadOnlySpan<int> labels, int n, int c, CrossEntropyTerms terms)
    {
        double eps = terms.LabelSmoothing, z = terms.ZLoss, cap = terms.Softcap;
        var w = terms.Weights ?? Enumerable.Repeat(1.0, c).ToArray();
        if (w.Length < c)
            throw new ArgumentException($"{w.Length} weights for {c} classes", nameof(terms));
        var wTotal = new CompensatedSum();
        for (int j = 0; j < c; j++)
            wTotal.Add(w[j]);
        double divisor = 1;
        if (terms.Reduction == RefReduction.Mean)
        {
            var d = new CompensatedSum();
            for (int r = 0; r < n; r++)
                if (labels[r] != terms.IgnoreIndex)
                    d.Add(w[labels[r]]);
            divisor = d.Value;
        }
        double scale = divisor == 0 ? 0 : 1 / divisor;

        var rowLoss = new double[n];
        var lse = new double[n];
        var zLoss = new double[n];
        var gradient = new double[(long)n * c];
        var xc = new double[c];
        for (int r = 0; r < n; r++)
        {
            double max = double.NegativeInfinity;
            for (int j = 0; j < c; j++)
            {
                double v = logits[(long)r * c + j];
                xc[j] = cap > 0 ? cap * Math.Tanh(v / cap) : v;
                max = Math.Max(max, xc[j]);
            }
            bool masked = double.IsNegativeInfinity(max);
            var sum = new CompensatedSum();
            for (int j = 0; j < c; j++)
                sum.Add(masked ? 0 : Math.Exp(xc[j] - max));
            double logSum = Math.Log(sum.Value);
            lse[r] = masked ? max : max + logSum;
            int y = labels[r];
            if (y == terms.IgnoreIndex)
                continue;
            double loss;
            if (masked)
                loss = double.PositiveInfinity;
            else
            {
                // Relative to the row max, as ReferenceOps.CrossEntropy: exact differences at |x| = 1e4.
                loss = (1 - eps) * w[y] * ((max - xc[y]) + logSum);
                if (eps != 0)
                {
                    var spread = new CompensatedSum();
                    for (int j = 0; j < c; j++)
                        spread.Add(w[j] * ((max - xc[j]) + logSum));
                    loss += eps / c * spread.Value;
                }
            }
            zLoss[r] = z * lse[r] * lse[r];
            rowLoss[r] = loss + zLoss[r];
            // ∂loss/∂x'_j = p_j·((1 − ε)·w_y + ε·W/C + 2·z·lse) − (1 − ε)·w_y·[j = y] − (ε/C)·w_j; a masked row has p = 0
            // and its z-loss adds nothing (the kernels' convention for 0·∞).
            double pScale = (1 - eps) * w[y] + eps * wTotal.Value / c + (masked ? 0 : 2 * z * lse[r]);
            for (int j = 0; j < c; j++)
            {
                double p = masked ? 0 : Math.Exp((xc[j] - max) - logSum);
                double g = p * pScale - (j == y ? (1 - eps) * w[y] : 0) - eps / c * w[j];
                if (cap > 0)
                {
                    double t = Math.Tanh(logits[(long)r * c + j] / cap);
                    g *= 1 - t * t;
                }
                gradient[(long)r * c + j] = g * scale;
            }
        }
        var total = new CompensatedSum();
        foreach (double v in rowLoss)
            total.Add(v);
        double reduced = terms.Reduction == RefReduction.Mean ? total.Value * scale : total.Value;
        return new CrossEntropyTermsReference(rowLoss, reduced, gradient, lse, zLoss, divisor);
    }
}
