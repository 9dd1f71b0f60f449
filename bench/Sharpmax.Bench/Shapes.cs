using System.Globalization;

namespace Sharpmax.Bench;

/// <summary>An N×C row set (logits or softmax input), as a benchmark parameter.</summary>
public sealed record RowShape(int N, int C)
{
    private const long TargetBytes = 16L << 20;
    private const int MinRows = 64;
    private static readonly int[] StreamingClasses = [10, 1000, 32768, 262144];

    /// <summary>C ∈ {10, 1000, 32768, 262144} with N chosen so the row set is 16 MiB (at least 64 rows, so
    /// 64 MiB at C = 262144): large enough to stream from memory, small enough for a 2-core machine.</summary>
    public static IEnumerable<RowShape> Streaming() =>
        StreamingClasses.Select(c => new RowShape((int)Math.Max(MinRows, TargetBytes / sizeof(float) / c), c));

    /// <summary>Bytes of one N×C float matrix.</summary>
    public long MatrixBytes => (long)N * C * sizeof(float);

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{N}x{C}");
}

/// <summary>The three products of a linear layer's step.</summary>
public enum LinearProduct
{
    /// <summary>Y[N×C] = X[N×K]·W[K×C] + b.</summary>
    Forward,

    /// <summary>dX[N×K] = dY[N×C]·Wᵀ.</summary>
    BackwardInput,

    /// <summary>dW[K×C] = Xᵀ·dY.</summary>
    BackwardWeight,
}

/// <summary>One linear-layer product at the trainer's shape (N = 256, K = 784, C = 10), as a benchmark parameter.</summary>
public sealed record LinearCase(LinearProduct Product, int N, int K, int C)
{
    public static IEnumerable<LinearCase> Trainer() =>
        Enum.GetValues<LinearProduct>().Select(p => new LinearCase(p, 256, 784, 10));

    /// <summary>d2l's MLP (784 → 256 → 10, N = 256): the hidden layer's three products (K = 784, C = 256) and the
    /// output layer's (K = 256, C = 10), whose dX is now on the path (the hidden layer's gradient).</summary>
    public static IEnumerable<LinearCase> Mlp() =>
        from shape in new[] { (K: 784, C: 256), (K: 256, C: 10) }
        from p in Enum.GetValues<LinearProduct>()
        select new LinearCase(p, 256, shape.K, shape.C);

    /// <summary>The product as rows × depth · depth × columns (row-major operands).</summary>
    public (int Rows, int Depth, int Cols) Gemm => Product switch
    {
        LinearProduct.Forward => (N, K, C),
        LinearProduct.BackwardInput => (N, C, K),
        _ => (K, N, C),
    };

    /// <summary>Multiply-adds count twice; the forward's bias adds one per output.</summary>
    public double Flops
    {
        get
        {
            var (rows, depth, cols) = Gemm;
            return 2.0 * rows * depth * cols + (Product == LinearProduct.Forward ? (double)rows * cols : 0);
        }
    }

    /// <summary>Bytes each operand is read and the output written once (the least traffic possible).</summary>
    public double Bytes
    {
        get
        {
            var (rows, depth, cols) = Gemm;
            double floats = (double)rows * depth + (double)depth * cols + (double)rows * cols;
            return sizeof(float) * (floats + (Product == LinearProduct.Forward ? C : 0));
        }
    }

    /// <summary>The product and its shape, for tables: "Y = X·W + b, 256×784 · 784×10".</summary>
    public string Description
    {
        get
        {
            var (rows, depth, cols) = Gemm;
            string name = Product switch
            {
                LinearProduct.Forward => "Y = X·W + b",
                LinearProduct.BackwardInput => "dX = dY·Wᵀ",
                _ => "dW = Xᵀ·dY",
            };
            return string.Create(CultureInfo.InvariantCulture, $"{name}, {rows}×{depth} · {depth}×{cols}");
        }
    }

    /// <summary>Short enough for BenchmarkDotNet's parameter column (it abbreviates beyond 20 characters).</summary>
    public override string ToString()
    {
        var (rows, depth, cols) = Gemm;
        string name = Product switch
        {
            LinearProduct.Forward => "XW+b",
            LinearProduct.BackwardInput => "dY.Wt",
            _ => "Xt.dY",
        };
        return string.Create(CultureInfo.InvariantCulture, $"{name} {rows}x{depth}x{cols}");
    }
}
