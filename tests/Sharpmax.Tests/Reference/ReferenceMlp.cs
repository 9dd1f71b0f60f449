// One training step of a ReLU MLP (Models.Mlp's recipe) in float64, with a bound on how far a float32 device
// may be from each value (a running error analysis), so the device step can be checked on every device.
//
//   var step = ReferenceMlp.Step(x, k, labels, [(w1, b1), (w2, b2)], lr);
//   step.Logits, step.WeightGrads[l], step.BiasGrads[l], step.NewWeights[l], step.NewBiases[l]   (values)
//   step.LogitsBound, step.WeightGradBounds[l], ...                                             (allowed |error|)
//
// The recipe: H_0 = X; H_l = relu(H_{l-1}·W_l + b_l) below the top, logits = H·W_L + b_L; mean cross-entropy;
// G = (softmax − onehot)/N; dW_l = H_{l-1}ᵀ·dZ_l, db_l = Σ_rows dZ_l, dZ_{l-1} = (dZ_l·W_lᵀ) ⊙ [H_{l-1} > 0];
// W ← W − lr·dW, b ← b − lr·db.
//
// Bounds. A float32 product y = Σ_p a_p·b_p, summed in any order, is within γ_P·Σ|a_p·b_p| of the exact sum,
// γ_P = 4·√P·u (u = 2^-24; the rounding model of LinearTests, with its 4× margin); inputs already off by e_a, e_b
// add Σ(e_a·|b| + |a|·e_b). Each stage adds 4u·|value| for its last roundings (bias add, the u8 scale, the ReLU
// output). ReLU is 1-Lipschitz, so it passes its input's bound on; where the exact pre-activation is within its
// bound of 0 the device may take the other side of the mask, so dZ there may be off by |dH| itself. The softmax
// gradient: |Δp_c| ≤ p_c·(e_c + Σ_k p_k·e_k) from the logits' error, plus 64u for the kernels' exp and division
// (fast-math exp on a GPU included), all divided by N. The update adds lr·e_g and 2u·|w|.
namespace Sharpmax.Tests.Reference;

/// <summary>The float64 result of one MLP step and, for each value, the largest error a float32 device may show.</summary>
public sealed record MlpStepReference(
    double[] Logits, double[] LogitsBound,
    double[][] WeightGrads, double[][] WeightGradBounds, double[][] BiasGrads, double[][] BiasGradBounds,
    double[][] NewWeights, double[][] NewWeightBounds, double[][] NewBiases, double[][] NewBiasBounds,
    double Loss);

/// <summary>A float64 MLP step (forward, mean cross-entropy, written-out backward, SGD update).</summary>
public static class ReferenceMlp
{
    private static readonly double s_u = Math.ScaleB(1.0, -24);

    /// <summary>One step from float32 inputs and parameters.</summary>
    /// <param name="x">N×K inputs, row-major (for pixels: byte/255.0 computed in double).</param>
    /// <param name="k">K.</param>
    /// <param name="labels">N labels in [0, C).</param>
    /// <param name="layers">(W K_l×C_l, b C_l) per layer, input to output.</param>
    /// <param name="lr">The learning rate (a float32 value).</param>
    public static MlpStepReference Step(double[] x, int k, int[] labels, IReadOnlyList<(float[] W, float[] B)> layers, float lr)
    {
        int n = labels.Length;
        int depth = layers.Count;
        var sizes = new int[depth + 1];
        sizes[0] = k;
        for (int l = 0; l < depth; l++)
            sizes[l + 1] = layers[l].B.Length;

        // Forward, keeping every layer's input (value and bound) and pre-activation.
        var inputs = new double[depth][];
        var inputBounds = new double[depth][];
        var pre = new double[depth][];
        var preBounds = new double[depth][];
        double[] h = x, he = new double[x.Length];
        for (int l = 0; l < depth; l++)
        {
            inputs[l] = h;
            inputBounds[l] = he;
            int kin = sizes[l], cout = sizes[l + 1];
            var w = Widen(layers[l].W);
            var b = Widen(layers[l].B);
            var (z, ze) = Product(h, he, kin, w, new double[w.Length], cout, n, transposeA: false, transposeB: false);
            for (int i = 0; i < n; i++)
                for (int c = 0; c < cout; c++)
                {
                    z[i * cout + c] += b[c];
                    ze[i * cout + c] += 4 * s_u * Math.Abs(z[i * cout + c]);
                }
            pre[l] = z;
            preBounds[l] = ze;
            h = l < depth - 1 ? z.Select(v => Math.Max(v, 0)).ToArray() : z;
            he = ze;
        }
        double[] logits = h, logitsBound = he;
        int classes = sizes[depth];

        // Mean cross-entropy and its gradient G = (softmax − onehot)/N, with the bound from the logits' error.
        var g = new double[n * classes];
        var ge = new double[n * classes];
        double loss = 0;
        for (int i = 0; i < n; i++)
        {
            var row = logits.AsSpan(i * classes, classes);
            double max = row.ToArray().Max();
            double sum = 0;
            foreach (double v in row)
                sum += Math.Exp(v - max);
            loss += Math.Log(sum) + max - row[labels[i]];
            double weighted = 0;
            for (int c = 0; c < classes; c++)
                weighted += Math.Exp(row[c] - max) / sum * logitsBound[i * classes + c];
            for (int c = 0; c < classes; c++)
            {
                double p = Math.Exp(row[c] - max) / sum;
                g[i * classes + c] = (p - (c == labels[i] ? 1 : 0)) / n;
                ge[i * classes + c] = (p * (logitsBound[i * classes + c] + weighted) + 64 * s_u) / n;
            }
        }
        loss /= n;

        // Backward, top to bottom.
        var wg = new double[depth][];
        var wge = new double[depth][];
        var bg = new double[depth][];
        var bge = new double[depth][];
        double[] dz = g, dze = ge;
        for (int l = depth - 1; l >= 0; l--)
        {
            int kin = sizes[l], cout = sizes[l + 1];
            (wg[l], wge[l]) = Product(inputs[l], inputBounds[l], kin, dz, dze, cout, n, transposeA: true, transposeB: false);
            (bg[l], bge[l]) = ColumnSums(dz, dze, n, cout);
            if (l == 0)
                break;
            var w = Widen(layers[l].W);
            var (dh, dhe) = Product(dz, dze, cout, w, new double[w.Length], kin, n, transposeA: false, transposeB: true);
            var below = pre[l - 1];
            var belowBound = preBounds[l - 1];
            for (int i = 0; i < dh.Length; i++)
            {
                bool ambiguous = Math.Abs(below[i]) <= belowBound[i];
                double masked = below[i] > 0 ? dh[i] : 0;
                dhe[i] = ambiguous ? dhe[i] + Math.Abs(dh[i]) : (below[i] > 0 ? dhe[i] : 0);
                dh[i] = masked;
            }
            (dz, dze) = (dh, dhe);
        }

        // SGD.
        var nw = new double[depth][];
        var nwe = new double[depth][];
        var nb = new double[depth][];
        var nbe = new double[depth][];
        for (int l = 0; l < depth; l++)
        {
            (nw[l], nwe[l]) = Update(layers[l].W, wg[l], wge[l], lr);
            (nb[l], nbe[l]) = Update(layers[l].B, bg[l], bge[l], lr);
        }
        return new MlpStepReference(logits, logitsBound, wg, wge, bg, bge, nw, nwe, nb, nbe, loss);
    }

    private static double[] Widen(float[] v) => v.Select(f => (double)f).ToArray();

    // out[i, j] = Σ_p A(i, p)·B(p, j), with A m×P (or Aᵀ stored P×m) and B P×cols (or Bᵀ stored cols×P); the
    // result's bound is γ_P·Σ|a·b| + Σ(e_a·|b| + |a|·e_b). The depth P is the dimension the two share.
    private static (double[] Value, double[] Bound) Product(double[] a, double[] ae, int aCols, double[] b, double[] be,
        int cols, int n, bool transposeA, bool transposeB)
    {
        // transposeA: A is stored n×aCols and used as aCols×n (dW = Hᵀ·dZ): m = aCols, P = n.
        // otherwise:  A is n×aCols, m = n, P = aCols.
        int m = transposeA ? aCols : n;
        int depth = transposeA ? n : aCols;
        double gamma = 4 * Math.Sqrt(depth) * s_u;
        var value = new double[m * cols];
        var bound = new double[m * cols];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < cols; j++)
            {
                double sum = 0, abs = 0, err = 0;
                for (int p = 0; p < depth; p++)
                {
                    int ai = transposeA ? p * aCols + i : i * aCols + p;
                    int bi = transposeB ? j * depth + p : p * cols + j;
                    double av = a[ai], bv = b[bi];
                    sum += av * bv;
                    abs += Math.Abs(av * bv);
                    err += ae[ai] * Math.Abs(bv) + Math.Abs(av) * be[bi];
                }
                value[i * cols + j] = sum;
                bound[i * cols + j] = gamma * abs + err;
            }
        return (value, bound);
    }

    private static (double[] Value, double[] Bound) ColumnSums(double[] v, double[] e, int n, int cols)
    {
        double gamma = 4 * Math.Sqrt(Math.Max(1, n)) * s_u;
        var value = new double[cols];
        var bound = new double[cols];
        for (int c = 0; c < cols; c++)
        {
            double sum = 0, abs = 0, err = 0;
            for (int i = 0; i < n; i++)
            {
                sum += v[i * cols + c];
                abs += Math.Abs(v[i * cols + c]);
                err += e[i * cols + c];
            }
            value[c] = sum;
            bound[c] = gamma * abs + err;
        }
        return (value, bound);
    }

    private static (double[] Value, double[] Bound) Update(float[] w, double[] grad, double[] gradBound, float lr)
    {
        var value = new double[w.Length];
        var bound = new double[w.Length];
        for (int i = 0; i < w.Length; i++)
        {
            value[i] = w[i] - (double)lr * grad[i];
            bound[i] = lr * gradBound[i] + 2 * s_u * (Math.Abs(value[i]) + Math.Abs(lr * grad[i]));
        }
        return (value, bound);
    }
}
