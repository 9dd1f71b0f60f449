// The float64 reference the kernels are tested against: float32 inputs, double results,
// accumulated with compensated (Neumaier) sums. Matrices are row-major; `ld` is the row
// stride of the logits (0 means C). Results are dense (stride C, or the output width).
//
//   double[] p    = ReferenceOps.Softmax(logits, n, c);             // N×C
//   double[] logp = ReferenceOps.LogSoftmax(logits, n, c);          // N×C
//   double[] lse  = ReferenceOps.LogSumExp(logits, n, c);           // N
//   int[] top     = ReferenceOps.Argmax(logits, n, c);              // N, numpy's: first NaN, else lowest max
//   var ce    = ReferenceOps.CrossEntropy(logits, labels, n, c, RefReduction.Mean,
//                                         ignoreIndex: -100, labelSmoothing: 0.1);
//               // ce.RowLoss (N), ce.Loss, ce.Gradient (N×C), ce.Count, ce.Lse (N)
//   var naive = ReferenceOps.NaiveCrossEntropy(logits, labels, n, c, RefReduction.Mean);
//               // naive.RowLoss = −log(max(p_label, 1e-12)) (smoothed like the loss), naive.Loss
//   double[] y  = ReferenceOps.LinearForward(x, w, b, n, k, c);     // Y = X·W + b, N×C (x may be pixels: byte/255)
//   double[] dx = ReferenceOps.LinearBackwardInput(dy, w, n, k, c); // dX = dY·Wᵀ, N×K
//   double[] dw = ReferenceOps.LinearBackwardWeight(x, dy, n, k, c);// dW = Xᵀ·dY, K×C
//   double[] db = ReferenceOps.LinearBackwardBias(dy, n, c);        // db = Σ rows dY, C
//   double[] w1 = ReferenceOps.SgdStep(w, g, lr, weightDecay);      // w − lr·(g + wd·w)
//   int correct = ReferenceOps.CorrectCount(logits, labels, n, c);  // rows with argmax == label
//
// Definitions (the same as tests/golden/make_golden.py, which documents them in full):
//   loss_r = (1 − ε)(lse_r − x_r,y) + ε·mean_c(lse_r − x_rc), 0 on ignored rows;
//   mean over the non-ignored rows, and 0 (with a zero gradient) when every row is ignored;
//   grad_rc = (softmax_rc − (1 − ε)[c = y] − ε/C)·scale, scale 1/count for mean, else 1;
//   for None the gradient is that of the sum of row losses and Loss holds that sum.
//   naive_r = (1 − ε)·nl_r,y + ε·mean_c(nl_rc), nl = −log(max(softmax, 1e-12)) (≤ 27.631);
//   A row of all −∞ (fully masked, as kernels/softmax.cu defines it) has softmax 0,
//   log-softmax −∞ and lse −∞; unless ignored, its loss is +∞ (every class impossible),
//   its gradient the formula with softmax 0, −target·scale, and its naive loss 27.631.
//   Pixel inputs are x = byte/255 taken exactly (kernels multiply by float32(1/255):
//   a relative difference below 6e-8, far inside any float32 tolerance).
namespace Sharpmax.Tests.Reference;

/// <summary>How per-row losses are reduced (PyTorch's names).</summary>
public enum RefReduction
{
    /// <summary>No reduction: per-row losses; the gradient is that of their sum.</summary>
    None,
    /// <summary>Mean over the non-ignored rows (0 when there are none).</summary>
    Mean,
    /// <summary>Sum over the rows (ignored rows contribute 0).</summary>
    Sum,
}

/// <summary>Exact-as-possible cross-entropy results.</summary>
/// <param name="RowLoss">Per-row loss, N (0 on ignored rows).</param>
/// <param name="Loss">Reduced loss; for <see cref="RefReduction.None"/>, the sum of <paramref name="RowLoss"/>.</param>
/// <param name="Gradient">d Loss / d logits, N×C dense.</param>
/// <param name="Count">Rows whose label is not the ignore index.</param>
/// <param name="Lse">Per-row log-sum-exp, N (computed for ignored rows too).</param>
public sealed record CrossEntropyReference(double[] RowLoss, double Loss, double[] Gradient, int Count, double[] Lse);

/// <summary>The naive chain's results: softmax → log → gather with the 1e-12 clip.</summary>
/// <param name="RowLoss">Per-row −log(max(p_label, 1e-12)), N (0 on ignored rows); never above 27.631.</param>
/// <param name="Loss">Reduced like <see cref="CrossEntropyReference.Loss"/>.</param>
public sealed record NaiveCrossEntropyReference(double[] RowLoss, double Loss);

/// <summary>float64 reference implementations of every op Sharpmax's kernels compute.</summary>
public static class ReferenceOps
{
    /// <summary>PyTorch's default ignore index.</summary>
    public const int DefaultIgnoreIndex = -100;

    /// <summary>d2l's clip: the naive loss is −log(max(p, 1e-12)), so it never exceeds −log(1e-12) ≈ 27.631.</summary>
    public const double NaiveClip = 1e-12;

    /// <summary>Row-wise softmax, N×C.</summary>
    public static double[] Softmax(ReadOnlySpan<float> logits, int n, int c, int ld = 0)
    {
        ld = CheckLogits(logits, n, c, ld);
        var result = new double[(long)n * c];
        for (int r = 0; r < n; r++)
        {
            var row = logits.Slice(r * ld, c);
            var (max, logSum) = MaxAndLogSum(row);
            for (int j = 0; j < c; j++)
                result[(long)r * c + j] = IsMasked(max) ? 0.0 : Math.Exp((row[j] - max) - logSum);
        }
        return result;
    }

    /// <summary>Row-wise log-softmax, N×C (−∞ where a logit is −∞).</summary>
    public static double[] LogSoftmax(ReadOnlySpan<float> logits, int n, int c, int ld = 0)
    {
        ld = CheckLogits(logits, n, c, ld);
        var result = new double[(long)n * c];
        for (int r = 0; r < n; r++)
        {
            var row = logits.Slice(r * ld, c);
            var (max, logSum) = MaxAndLogSum(row);
            for (int j = 0; j < c; j++)
                result[(long)r * c + j] = IsMasked(max) ? double.NegativeInfinity : (row[j] - max) - logSum;
        }
        return result;
    }

    /// <summary>Per-row log Σ exp(logits), N.</summary>
    public static double[] LogSumExp(ReadOnlySpan<float> logits, int n, int c, int ld = 0)
    {
        ld = CheckLogits(logits, n, c, ld);
        var result = new double[n];
        for (int r = 0; r < n; r++)
        {
            var (max, logSum) = MaxAndLogSum(logits.Slice(r * ld, c));
            result[r] = IsMasked(max) ? max : max + logSum;
        }
        return result;
    }

    /// <summary>Per-row index of the largest logit, N, as numpy.argmax: the first NaN wins (NaN counts as larger
    /// than everything), otherwise ties go to the lowest index.</summary>
    public static int[] Argmax(ReadOnlySpan<float> logits, int n, int c, int ld = 0)
    {
        ld = CheckLogits(logits, n, c, ld);
        var result = new int[n];
        for (int r = 0; r < n; r++)
        {
            var row = logits.Slice(r * ld, c);
            int best = 0;
            for (int j = 0; j < c; j++)
            {
                if (float.IsNaN(row[j]))
                {
                    best = j;
                    break;
                }
                if (row[j] > row[best])
                    best = j;
            }
            result[r] = best;
        }
        return result;
    }

    /// <summary>Cross-entropy of softmax(logits) against integer labels, with its gradient.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A label is outside [0, C) and not the ignore index.</exception>
    public static CrossEntropyReference CrossEntropy(
        ReadOnlySpan<float> logits, ReadOnlySpan<int> labels, int n, int c,
        RefReduction reduction = RefReduction.Mean, int ignoreIndex = DefaultIgnoreIndex,
        double labelSmoothing = 0.0, int ld = 0)
    {
        ld = CheckLogits(logits, n, c, ld);
        CheckLabels(labels, n, c, ignoreIndex);
        ArgumentOutOfRangeException.ThrowIfNegative(labelSmoothing);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(labelSmoothing, 1.0);

        var rowLoss = new double[n];
        var lse = new double[n];
        var gradient = new double[(long)n * c];
        int count = CountContributing(labels, ignoreIndex);
        double scale = Scale(reduction, count);
        double eps = labelSmoothing;
        for (int r = 0; r < n; r++)
        {
            var row = logits.Slice(r * ld, c);
            var (max, logSum) = MaxAndLogSum(row);
            lse[r] = IsMasked(max) ? max : max + logSum;
            int y = labels[r];
            if (y == ignoreIndex)
                continue; // loss 0, gradient 0
            // Relative to the row max: x − max is exact for float32 inputs, so precision survives |x| = 1e4.
            double loss = (max - row[y]) + logSum;
            if (IsMasked(max))
                loss = double.PositiveInfinity; // (−∞ − −∞) would be NaN: every class is impossible
            else if (eps != 0.0)
            {
                var spread = new CompensatedSum();
                foreach (float x in row)
                    spread.Add(max - x);
                loss = (1.0 - eps) * loss + eps * (spread.Value / c + logSum);
            }
            rowLoss[r] = loss;
            for (int j = 0; j < c; j++)
            {
                double p = IsMasked(max) ? 0.0 : Math.Exp((row[j] - max) - logSum);
                double target = (j == y ? 1.0 - eps : 0.0) + eps / c;
                gradient[(long)r * c + j] = (p - target) * scale;
            }
        }
        return new CrossEntropyReference(rowLoss, Reduce(rowLoss, reduction, count), gradient, count, lse);
    }

    /// <summary>
    /// The naive chain: p = softmax (exact), nl = −log(max(p, 1e-12)), loss = (1 − ε)·nl_label + ε·mean_c(nl_c).
    /// Its gradient kernel computes <see cref="CrossEntropy"/>'s gradient.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A label is outside [0, C) and not the ignore index.</exception>
    public static NaiveCrossEntropyReference NaiveCrossEntropy(
        ReadOnlySpan<float> logits, ReadOnlySpan<int> labels, int n, int c,
        RefReduction reduction = RefReduction.Mean, int ignoreIndex = DefaultIgnoreIndex,
        double labelSmoothing = 0.0, int ld = 0)
    {
        ld = CheckLogits(logits, n, c, ld);
        CheckLabels(labels, n, c, ignoreIndex);
        double eps = labelSmoothing;
        var rowLoss = new double[n];
        for (int r = 0; r < n; r++)
        {
            int y = labels[r];
            if (y == ignoreIndex)
                continue;
            var row = logits.Slice(r * ld, c);
            var (max, logSum) = MaxAndLogSum(row);
            double loss = ClippedNll(row[y], max, logSum);
            if (eps != 0.0)
            {
                var spread = new CompensatedSum();
                foreach (float x in row)
                    spread.Add(ClippedNll(x, max, logSum));
                loss = (1.0 - eps) * loss + eps * (spread.Value / c);
            }
            rowLoss[r] = loss;
        }
        int count = CountContributing(labels, ignoreIndex);
        return new NaiveCrossEntropyReference(rowLoss, Reduce(rowLoss, reduction, count));
    }

    /// <summary>Y = X·W + b: X N×K, W K×C, b C (or empty for no bias); returns N×C.</summary>
    public static double[] LinearForward(ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<float> b, int n, int k, int c)
    {
        CheckLength(x, (long)n * k, nameof(x));
        return Forward(x, w, b, n, k, c, 1.0);
    }

    /// <summary>Y = (pixels/255)·W + b: pixels N×K bytes, W K×C, b C (or empty); returns N×C.</summary>
    public static double[] LinearForward(ReadOnlySpan<byte> pixels, ReadOnlySpan<float> w, ReadOnlySpan<float> b, int n, int k, int c)
    {
        CheckLength(pixels, (long)n * k, nameof(pixels));
        return Forward(pixels, w, b, n, k, c, 255.0);
    }

    /// <summary>dX = dY·Wᵀ: dY N×C, W K×C; returns N×K.</summary>
    public static double[] LinearBackwardInput(ReadOnlySpan<float> dy, ReadOnlySpan<float> w, int n, int k, int c)
    {
        CheckLength(dy, (long)n * c, nameof(dy));
        CheckLength(w, (long)k * c, nameof(w));
        var dx = new double[(long)n * k];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < k; j++)
            {
                var sum = new CompensatedSum();
                for (int o = 0; o < c; o++)
                    sum.Add((double)dy[i * c + o] * w[j * c + o]);
                dx[(long)i * k + j] = sum.Value;
            }
        return dx;
    }

    /// <summary>dW = Xᵀ·dY: X N×K, dY N×C; returns K×C.</summary>
    public static double[] LinearBackwardWeight(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, int n, int k, int c)
    {
        CheckLength(x, (long)n * k, nameof(x));
        return BackwardWeight(x, dy, n, k, c, 1.0);
    }

    /// <summary>dW = (pixels/255)ᵀ·dY: pixels N×K bytes, dY N×C; returns K×C.</summary>
    public static double[] LinearBackwardWeight(ReadOnlySpan<byte> pixels, ReadOnlySpan<float> dy, int n, int k, int c)
    {
        CheckLength(pixels, (long)n * k, nameof(pixels));
        return BackwardWeight(pixels, dy, n, k, c, 255.0);
    }

    /// <summary>db = Σ over rows of dY: dY N×C; returns C.</summary>
    public static double[] LinearBackwardBias(ReadOnlySpan<float> dy, int n, int c)
    {
        CheckLength(dy, (long)n * c, nameof(dy));
        var db = new double[c];
        for (int o = 0; o < c; o++)
        {
            var sum = new CompensatedSum();
            for (int i = 0; i < n; i++)
                sum.Add(dy[i * c + o]);
            db[o] = sum.Value;
        }
        return db;
    }

    /// <summary>One SGD step (PyTorch's, no momentum): w − lr·(g + weightDecay·w), element-wise.</summary>
    public static double[] SgdStep(ReadOnlySpan<float> w, ReadOnlySpan<float> g, float lr, float weightDecay = 0f)
    {
        CheckLength(g, w.Length, nameof(g));
        var result = new double[w.Length];
        for (int i = 0; i < w.Length; i++)
            result[i] = w[i] - (double)lr * (g[i] + (double)weightDecay * w[i]);
        return result;
    }

    /// <summary>How many rows have <see cref="Argmax"/> equal to their label; ignored rows never count.</summary>
    public static int CorrectCount(ReadOnlySpan<float> logits, ReadOnlySpan<int> labels, int n, int c, int ld = 0)
    {
        CheckLength(labels, n, nameof(labels));
        int[] argmax = Argmax(logits, n, c, ld);
        int correct = 0;
        for (int r = 0; r < n; r++)
            if (argmax[r] == labels[r])
                correct++;
        return correct;
    }

    // X is float or byte; products of two float32 values (or a byte and a float32) are exact in
    // double, so the only rounding is in the (compensated) sum and the final /divisor.
    private static double[] Forward<T>(ReadOnlySpan<T> x, ReadOnlySpan<float> w, ReadOnlySpan<float> b, int n, int k, int c, double divisor)
        where T : unmanaged, IConvertible
    {
        CheckLength(w, (long)k * c, nameof(w));
        if (!b.IsEmpty)
            CheckLength(b, c, nameof(b));
        var y = new double[(long)n * c];
        for (int i = 0; i < n; i++)
            for (int o = 0; o < c; o++)
            {
                var sum = new CompensatedSum();
                for (int j = 0; j < k; j++)
                    sum.Add(ToDouble(x[i * k + j]) * w[j * c + o]);
                y[(long)i * c + o] = sum.Value / divisor + (b.IsEmpty ? 0.0 : b[o]);
            }
        return y;
    }

    private static double[] BackwardWeight<T>(ReadOnlySpan<T> x, ReadOnlySpan<float> dy, int n, int k, int c, double divisor)
        where T : unmanaged, IConvertible
    {
        CheckLength(dy, (long)n * c, nameof(dy));
        var dw = new double[(long)k * c];
        for (int j = 0; j < k; j++)
            for (int o = 0; o < c; o++)
            {
                var sum = new CompensatedSum();
                for (int i = 0; i < n; i++)
                    sum.Add(ToDouble(x[i * k + j]) * dy[i * c + o]);
                dw[(long)j * c + o] = sum.Value / divisor;
            }
        return dw;
    }

    private static double ToDouble<T>(T value) where T : unmanaged, IConvertible =>
        value switch
        {
            float f => f,
            byte b => b,
            _ => throw new NotSupportedException(typeof(T).Name),
        };

    // The naive chain's −log(max(p, 1e-12)) for one logit of a row.
    private static double ClippedNll(float x, double max, double logSum) =>
        -Math.Log(Math.Max(IsMasked(max) ? 0.0 : Math.Exp((x - max) - logSum), NaiveClip));

    private static bool IsMasked(double rowMax) => double.IsNegativeInfinity(rowMax);

    /// <summary>The row max and log Σ exp(x − max); callers treat a row of −∞ (<see cref="IsMasked"/>) apart.</summary>
    private static (double Max, double LogSum) MaxAndLogSum(ReadOnlySpan<float> row)
    {
        double max = double.NegativeInfinity;
        foreach (float x in row)
            max = Math.Max(max, x);
        var sum = new CompensatedSum();
        foreach (float x in row)
            sum.Add(Math.Exp(x - max));
        return (max, Math.Log(sum.Value));
    }

    private static int CountContributing(ReadOnlySpan<int> labels, int ignoreIndex)
    {
        int count = 0;
        foreach (int y in labels)
            if (y != ignoreIndex)
                count++;
        return count;
    }

    // A mean over zero contributing rows is defined as 0: the loss is then a constant, so its gradient is 0.
    private static double Scale(RefReduction reduction, int count) =>
        reduction == RefReduction.Mean ? (count == 0 ? 0.0 : 1.0 / count) : 1.0;

    private static double Reduce(double[] rowLoss, RefReduction reduction, int count)
    {
        var sum = new CompensatedSum();
        foreach (double loss in rowLoss)
            sum.Add(loss);
        return reduction == RefReduction.Mean ? (count == 0 ? 0.0 : sum.Value / count) : sum.Value;
    }

    private static int CheckLogits(ReadOnlySpan<float> logits, int n, int c, int ld)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(c);
        if (ld == 0)
            ld = c;
        ArgumentOutOfRangeException.ThrowIfLessThan(ld, c);
        long needed = n == 0 ? 0 : (long)(n - 1) * ld + c;
        if (logits.Length < needed)
            throw new ArgumentException($"logits holds {logits.Length} floats; N={n}, C={c}, ld={ld} needs {needed}", nameof(logits));
        return ld;
    }

    private static void CheckLabels(ReadOnlySpan<int> labels, int n, int c, int ignoreIndex)
    {
        CheckLength(labels, n, nameof(labels));
        for (int r = 0; r < n; r++)
            if (labels[r] != ignoreIndex && (uint)labels[r] >= (uint)c)
                throw new ArgumentOutOfRangeException(nameof(labels), labels[r], $"label of row {r} is outside [0, {c}) and not the ignore index {ignoreIndex}");
    }

    private static void CheckLength<T>(ReadOnlySpan<T> data, long expected, string name)
    {
        if (data.Length != expected)
            throw new ArgumentException($"{name} holds {data.Length} elements, expected {expected}", name);
    }
}

/// <summary>Neumaier's compensated sum: error independent of the number of terms, for practical purposes.</summary>
internal struct CompensatedSum
{
    private double _sum;
    private double _compensation;

    public void Add(double value)
    {
        double t = _sum + value;
        if (double.IsFinite(t))
            _compensation += Math.Abs(_sum) >= Math.Abs(value) ? (_sum - t) + value : (value - t) + _sum;
        _sum = t;
    }

    public readonly double Value => double.IsFinite(_sum) ? _sum + _compensation : _sum;
}
