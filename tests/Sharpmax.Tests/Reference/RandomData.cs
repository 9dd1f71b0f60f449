// Seeded test inputs: the same seed gives the same data on every machine and run.
//
//   var rng = new RandomData(seed);
//   float[] logits = rng.Logits(n, c);            // uniform on [-8, 8), N×C row-major
//   int[] labels   = rng.Labels(n, c, ignoreFraction: 0.1);   // some rows -100
//   float[] w      = rng.Normal(k * c, std: 0.01);
//   float[] x      = rng.Matrix(n, k);            // uniform on [-1, 1)
//   byte[] pixels  = rng.Pixels(n * k);
//   float[] big    = RandomData.GoldenUniform(seed, n * c, 8);   // make_golden.py's generator
//
// The generator is SplitMix64 (Steele, Lea & Flood 2014): tiny, fast, and easy
// to write identically in Python, which the golden cases need.
namespace Sharpmax.Tests.Reference;

/// <summary>Seeded generators for logits, labels, matrices and pixels (SplitMix64).</summary>
public sealed class RandomData(ulong seed)
{
    private const ulong Gamma = 0x9E3779B97F4A7C15;
    private ulong _state = seed;

    /// <summary>The label value rows use to opt out of the loss (PyTorch's default).</summary>
    public const int IgnoreIndex = -100;

    /// <summary>The next 64 random bits.</summary>
    public ulong NextUInt64()
    {
        _state += Gamma;
        return Mix(_state);
    }

    /// <summary>Uniform on [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform integer on [0, maxExclusive).</summary>
    public int NextInt(int maxExclusive)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxExclusive);
        return (int)(NextUInt64() % (ulong)maxExclusive);
    }

    /// <summary><paramref name="count"/> floats uniform on [lo, hi).</summary>
    public float[] Uniform(long count, double lo, double hi)
    {
        var data = new float[count];
        for (long i = 0; i < count; i++)
            data[i] = (float)(lo + (hi - lo) * NextDouble());
        return data;
    }

    /// <summary><paramref name="count"/> floats from N(0, std²) (Box–Muller).</summary>
    public float[] Normal(long count, double std)
    {
        var data = new float[count];
        for (long i = 0; i < count; i++)
        {
            double u1 = 1.0 - NextDouble(); // (0, 1]: log stays finite
            double u2 = NextDouble();
            data[i] = (float)(std * Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2));
        }
        return data;
    }

    /// <summary>N×C logits uniform on [-scale, scale), row-major.</summary>
    public float[] Logits(int n, int c, double scale = 8.0) => Uniform((long)n * c, -scale, scale);

    /// <summary>A rows×cols matrix uniform on [-scale, scale), row-major.</summary>
    public float[] Matrix(int rows, int cols, double scale = 1.0) => Uniform((long)rows * cols, -scale, scale);

    /// <summary>N labels in [0, C); each is <see cref="IgnoreIndex"/> with probability <paramref name="ignoreFraction"/>.</summary>
    public int[] Labels(int n, int c, double ignoreFraction = 0.0)
    {
        var labels = new int[n];
        for (int i = 0; i < n; i++)
            labels[i] = NextDouble() < ignoreFraction ? IgnoreIndex : NextInt(c);
        return labels;
    }

    /// <summary><paramref name="count"/> uniform bytes (pixel values 0..255).</summary>
    public byte[] Pixels(long count)
    {
        var data = new byte[count];
        for (long i = 0; i < count; i++)
            data[i] = (byte)(NextUInt64() >> 56);
        return data;
    }

    /// <summary>
    /// make_golden.py's seeded logits: element i is k/2^23·scale with k = (SplitMix64 output i+1 >> 40) − 2^23,
    /// exact in float32 because <paramref name="scale"/> must be a power of two.
    /// </summary>
    public static float[] GoldenUniform(ulong seed, long count, double scale)
    {
        if (!(scale > 0) || Math.ScaleB(1.0, Math.ILogB(scale)) != scale)
            throw new ArgumentOutOfRangeException(nameof(scale), scale, "scale must be a power of two");
        var rng = new RandomData(seed);
        var data = new float[count];
        for (long i = 0; i < count; i++)
        {
            long k = (long)(rng.NextUInt64() >> 40) - (1L << 23);
            data[i] = (float)(k * (scale / (1 << 23)));
        }
        return data;
    }

    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EB;
        return z ^ (z >> 31);
    }
}
