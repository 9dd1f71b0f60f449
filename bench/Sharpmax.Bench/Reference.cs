namespace Sharpmax.Bench;

/// <summary>
/// Float64 references the benchmarks validate against before timing (the same formulas as the tests' ReferenceOps,
/// written again here so the bench does not depend on the test project), and seeded inputs.
/// </summary>
internal static class Reference
{
    /// <summary>y = softmax(x) per row, max-subtracted, in double.</summary>
    public static double[] Softmax(float[] x, int n, int c)
    {
        var y = new double[x.Length];
        Parallel.For(0, n, r =>
        {
            var row = x.AsSpan(r * c, c);
            double max = double.NegativeInfinity;
            foreach (var v in row)
                max = Math.Max(max, v);
            double sum = 0;
            for (int j = 0; j < c; j++)
            {
                y[(long)r * c + j] = Math.Exp(row[j] - max);
                sum += y[(long)r * c + j];
            }
            for (int j = 0; j < c; j++)
                y[(long)r * c + j] /= sum;
        });
        return y;
    }

    /// <summary>Mean cross-entropy over the rows and its gradient (softmax − onehot)/N (every label valid).</summary>
    public static (double Loss, double[] Grad) CrossEntropy(float[] logits, int[] labels, int n, int c)
    {
        var grad = Softmax(logits, n, c);
        double total = 0;
        for (int r = 0; r < n; r++)
        {
            long at = (long)r * c + labels[r];
            total -= Math.Log(grad[at]);
            grad[at] -= 1;
        }
        for (long i = 0; i < grad.Length; i++)
            grad[i] /= n;
        return (total / n, grad);
    }

    /// <summary>out[rows×cols] = A[rows×depth]·B[depth×cols] (+ bias per column), row-major, and Σ|a·b| per output,
    /// the scale a float32 sum's rounding error is proportional to.</summary>
    public static (double[] Out, double[] AbsSum) Gemm(float[] a, float[] b, float[]? bias, int rows, int depth, int cols)
    {
        var result = new double[(long)rows * cols];
        var absSum = new double[result.Length];
        for (int i = 0; i < rows; i++)
        {
            for (int j = 0; j < cols; j++)
            {
                double sum = bias?[j] ?? 0, abs = Math.Abs(bias?[j] ?? 0);
                for (int p = 0; p < depth; p++)
                {
                    double term = (double)a[i * depth + p] * b[p * cols + j];
                    sum += term;
                    abs += Math.Abs(term);
                }
                result[i * cols + j] = sum;
                absSum[i * cols + j] = abs;
            }
        }
        return (result, absSum);
    }

    /// <summary>The transpose of a rows×cols row-major matrix.</summary>
    public static float[] Transpose(float[] m, int rows, int cols)
    {
        var t = new float[m.Length];
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++)
                t[j * rows + i] = m[i * cols + j];
        return t;
    }

    /// <summary>Uniform floats in [−scale, scale) from a fixed seed.</summary>
    public static float[] Uniform(int seed, long count, float scale)
    {
        var random = new Random(seed);
        var values = new float[count];
        for (long i = 0; i < count; i++)
            values[i] = (random.NextSingle() * 2 - 1) * scale;
        return values;
    }

    /// <summary>Labels uniform in [0, C) from a fixed seed.</summary>
    public static int[] Labels(int seed, int n, int c)
    {
        var random = new Random(seed);
        var labels = new int[n];
        for (int i = 0; i < n; i++)
            labels[i] = random.Next(c);
        return labels;
    }
}
