// The two independent references agree: the float64 C# reference (Reference/ReferenceOps.cs)
// against the NumPy golden data (tests/golden/make_golden.py). No device is involved.
using NUnit.Framework;
using Sharpmax.Tests.Reference;

namespace Sharpmax.Tests;

[TestFixture]
public class ReferenceSelfTests
{
    // Both sides are float64 from the same float32 inputs and the same formulas; they differ only
    // in summation (math.fsum vs Neumaier) and libm rounding, each well under 1e-14 relative.
    // 1e-11 leaves room for that and is still four orders below float32 rounding (6e-8), so any
    // formula or indexing slip fails. atol covers entries that cancel to ~0 (p − 1 at the label).
    private const double Rtol = 1e-11;
    private const double Atol = 1e-13;

    private static readonly double NaiveCap = -Math.Log(ReferenceOps.NaiveClip);
    private static readonly int[] RequiredClassCounts = [1, 10, 1000, 30000, 65537, 262144];
    private static readonly int[] FirstIndexEverywhere = [0, 0, 0, 0];

    [TestCaseSource(typeof(GoldenCases), nameof(GoldenCases.XentConfidentNames))]
    public void Accurate_cross_entropy_reference_matches_the_golden_confident_rows(string name)
    {
        // Relative only (atol 0): these losses and gradients are as small as 4e-18, and both sides avoid the
        // cancellation (log1p of the rest, −rest/s), so each keeps float64's relative accuracy.
        var g = GoldenCases.XentConfidentCase(name);
        var want = ReferenceAccurateCrossEntropy.Compute(g.Logits, [g.Label], 1, g.C, smoothing: 0, gradScale: 1);
        AssertClose.Scalar(want.RowLoss[0], g.Loss, 0, Rtol, $"{name} loss");
        AssertClose.Scalar(want.Lse[0], g.Lse, 0, Rtol, $"{name} lse");
        AssertClose.Tensor(want.Gradient, g.Grad, 0, Rtol, $"{name} gradient");
    }

    [TestCaseSource(typeof(GoldenCases), nameof(GoldenCases.CrossEntropyNames))]
    public void CrossEntropy_reference_matches_golden(string name)
    {
        var g = GoldenCases.CrossEntropyCase(name);
        var ce = ReferenceOps.CrossEntropy(g.Logits, g.Labels, g.N, g.C, g.Reduction, g.IgnoreIndex, g.LabelSmoothing);
        var naive = ReferenceOps.NaiveCrossEntropy(g.Logits, g.Labels, g.N, g.C, g.Reduction, g.IgnoreIndex, g.LabelSmoothing);
        var softmax = ReferenceOps.Softmax(g.Logits, g.N, g.C);
        var logSoftmax = ReferenceOps.LogSoftmax(g.Logits, g.N, g.C);
        var lse = ReferenceOps.LogSumExp(g.Logits, g.N, g.C);
        var argmax = ReferenceOps.Argmax(g.Logits, g.N, g.C);

        Assert.That(ce.Count, Is.EqualTo(g.Count), "non-ignored rows");
        AssertClose.Scalar(ce.Loss, g.Loss, Atol, Rtol, $"{name} loss");
        AssertClose.Scalar(naive.Loss, g.NaiveLoss, Atol, Rtol, $"{name} naive loss");
        AssertClose.Tensor(ce.RowLoss, g.Rows.Select(r => r.Loss).ToArray(), Atol, Rtol, $"{name} row loss");
        AssertClose.Tensor(naive.RowLoss, g.Rows.Select(r => r.NaiveLoss).ToArray(), Atol, Rtol, $"{name} naive row loss");
        AssertClose.Tensor(lse, g.Rows.Select(r => r.Lse).ToArray(), Atol, Rtol, $"{name} lse");
        AssertClose.Tensor(ce.Lse, lse, 0, 0, $"{name} CrossEntropy's lse vs LogSumExp");
        Assert.That(argmax, Is.EqualTo(g.Rows.Select(r => r.Argmax).ToArray()), $"{name} argmax");
        Assert.That(ReferenceOps.CorrectCount(g.Logits, g.Labels, g.N, g.C), Is.EqualTo(g.Correct), $"{name} correct count");
        for (int r = 0; r < g.N; r++)
            Assert.That(g.Logits.AsSpan(r * g.C, g.C).ToArray().Max(), Is.EqualTo(g.Rows[r].Max), $"{name} row {r} max");

        long[] at = g.Values.Select(v => (long)v.Row * g.C + v.Col).ToArray();
        AssertClose.Tensor(at.Select(i => softmax[i]).ToArray(), g.Values.Select(v => v.Softmax).ToArray(), Atol, Rtol, $"{name} softmax");
        AssertClose.Tensor(at.Select(i => logSoftmax[i]).ToArray(), g.Values.Select(v => v.LogSoftmax).ToArray(), Atol, Rtol, $"{name} log-softmax");
        AssertClose.Tensor(at.Select(i => ce.Gradient[i]).ToArray(), g.Values.Select(v => v.Grad).ToArray(), Atol, Rtol, $"{name} gradient");
    }

    [TestCaseSource(typeof(GoldenCases), nameof(GoldenCases.LinearNames))]
    public void Linear_reference_matches_golden(string name)
    {
        var g = GoldenCases.LinearCase(name);
        double[] y = g.Pixels is null
            ? ReferenceOps.LinearForward(g.X, g.W, g.B, g.N, g.K, g.C)
            : ReferenceOps.LinearForward(g.Pixels, g.W, g.B, g.N, g.K, g.C);
        double[] dw = g.Pixels is null
            ? ReferenceOps.LinearBackwardWeight(g.X, g.DY, g.N, g.K, g.C)
            : ReferenceOps.LinearBackwardWeight(g.Pixels, g.DY, g.N, g.K, g.C);
        AssertClose.Tensor(y, g.Y, Atol, Rtol, $"{name} Y", g.C);
        AssertClose.Tensor(ReferenceOps.LinearBackwardInput(g.DY, g.W, g.N, g.K, g.C), g.DX, Atol, Rtol, $"{name} dX", g.K);
        AssertClose.Tensor(dw, g.DW, Atol, Rtol, $"{name} dW", g.C);
        AssertClose.Tensor(ReferenceOps.LinearBackwardBias(g.DY, g.N, g.C), g.DB, Atol, Rtol, $"{name} db");
    }

    [Test]
    public void Sgd_reference_matches_golden()
    {
        Assert.That(GoldenCases.Sgd, Is.Not.Empty);
        foreach (var g in GoldenCases.Sgd)
            AssertClose.Tensor(ReferenceOps.SgdStep(g.W, g.G, g.Lr, g.WeightDecay), g.Updated, Atol, Rtol, g.Name);
    }

    [Test]
    public void Golden_cases_cover_the_required_shapes_and_extremes()
    {
        var cases = GoldenCases.CrossEntropy;
        Assert.That(cases.Select(c => c.C).Distinct(), Is.SupersetOf(RequiredClassCounts));
        Assert.That(cases.Any(c => c.N == 1) && cases.Any(c => c.N > 1 && c.N % 2 == 1), "N = 1 and odd N");
        Assert.That(cases.Select(c => c.Reduction).Distinct(), Is.EquivalentTo(Enum.GetValues<RefReduction>()));
        Assert.That(cases.Any(c => c.LabelSmoothing == 0.1), "label smoothing 0.1");
        Assert.That(cases.Any(c => c.Labels.Contains(0) && c.Labels.Contains(c.C - 1) && c.Labels.Contains(c.IgnoreIndex)),
            "labels 0, C-1 and the ignore index in one case");
        Assert.That(cases.Any(c => c.Logits.Contains(1e4f) && c.Logits.Contains(-1e4f)), "±1e4 logits");
        Assert.That(cases.Any(c => c.C > 65536 && c.Logits.Contains(float.NegativeInfinity)), "-inf in a large row");
        Assert.That(GoldenCases.Linear.Any(c => c.Pixels is not null), "u8 pixel input");
    }

    [Test]
    public void All_ignored_batch_has_zero_mean_loss_and_zero_gradient()
    {
        foreach (var g in GoldenCases.CrossEntropy.Where(c => c.Count == 0))
        {
            var ce = ReferenceOps.CrossEntropy(g.Logits, g.Labels, g.N, g.C, g.Reduction, g.IgnoreIndex, g.LabelSmoothing);
            Assert.That(g.Loss, Is.Zero, g.Name);
            Assert.That(ce.Loss, Is.Zero, g.Name);
            Assert.That(ce.Gradient, Is.All.Zero, g.Name);
        }
    }

    [Test]
    public void Naive_loss_is_capped_by_the_clip_and_exact_below_it()
    {
        foreach (var g in GoldenCases.CrossEntropy.Where(c => c.LabelSmoothing == 0))
            foreach (var row in g.Rows)
            {
                Assert.That(row.NaiveLoss, Is.LessThanOrEqualTo(NaiveCap * (1 + 1e-15)), $"{g.Name} row {row.Row}");
                if (row.Loss < NaiveCap - 1e-6)
                    AssertClose.Scalar(row.NaiveLoss, row.Loss, 1e-12, 1e-12, $"{g.Name} row {row.Row} below the clip");
                else
                    AssertClose.Scalar(row.NaiveLoss, NaiveCap, 1e-12, 1e-12, $"{g.Name} row {row.Row} clipped");
            }
        Assert.That(GoldenCases.CrossEntropy.Any(g => g.Rows.Any(r => r.Loss > NaiveCap)), "some golden row shows the clip");
    }

    [Test]
    public void Golden_generator_twin_reproduces_the_inline_logits()
    {
        // c10_n7_* were generated by make_golden.py from seed 10, scale 8, with no patches, and stored inline.
        var g = GoldenCases.CrossEntropyCase("c10_n7_mean");
        Assert.That(RandomData.GoldenUniform(10, g.N * g.C, 8.0), Is.EqualTo(g.Logits));
    }

    [Test]
    public void Row_stride_gives_the_same_results_as_dense_rows()
    {
        const int n = 5, c = 7, ld = 11;
        var rng = new RandomData(1);
        float[] dense = rng.Logits(n, c);
        float[] strided = new float[(n - 1) * ld + c];
        Array.Fill(strided, float.NaN); // padding must never be read
        for (int r = 0; r < n; r++)
            dense.AsSpan(r * c, c).CopyTo(strided.AsSpan(r * ld));
        int[] labels = [0, 6, -100, 3, 2];
        var a = ReferenceOps.CrossEntropy(dense, labels, n, c, RefReduction.Sum, labelSmoothing: 0.1);
        var b = ReferenceOps.CrossEntropy(strided, labels, n, c, RefReduction.Sum, labelSmoothing: 0.1, ld: ld);
        Assert.That(b.RowLoss, Is.EqualTo(a.RowLoss));
        Assert.That(b.Gradient, Is.EqualTo(a.Gradient));
        Assert.That(ReferenceOps.Softmax(strided, n, c, ld), Is.EqualTo(ReferenceOps.Softmax(dense, n, c)));
        Assert.That(ReferenceOps.Argmax(strided, n, c, ld), Is.EqualTo(ReferenceOps.Argmax(dense, n, c)));
    }

    [Test]
    public void Gradient_matches_central_differences_of_the_loss()
    {
        const int n = 3, c = 6;
        var rng = new RandomData(7);
        float[] logits = rng.Logits(n, c, scale: 2);
        int[] labels = [5, -100, 0];
        foreach (var reduction in Enum.GetValues<RefReduction>())
        {
            var ce = ReferenceOps.CrossEntropy(logits, labels, n, c, reduction, labelSmoothing: 0.1);
            for (int i = 0; i < n * c; i++)
            {
                // float32 steps: h = 2^-10 keeps x ± h exact; the central difference's error is O(h²) ≈ 1e-6.
                const float h = 1f / 1024;
                float[] plus = (float[])logits.Clone(), minus = (float[])logits.Clone();
                plus[i] += h;
                minus[i] -= h;
                double numeric = (ReferenceOps.CrossEntropy(plus, labels, n, c, reduction, labelSmoothing: 0.1).Loss
                                  - ReferenceOps.CrossEntropy(minus, labels, n, c, reduction, labelSmoothing: 0.1).Loss) / (2.0 * h);
                AssertClose.Scalar(ce.Gradient[i], numeric, 1e-6, 1e-5, $"{reduction} d loss / d logit[{i}]");
            }
        }
    }

    [Test]
    public void Fully_masked_row_has_zero_softmax_and_infinite_loss_unless_ignored()
    {
        float ninf = float.NegativeInfinity;
        float[] logits = [ninf, ninf, ninf, 1, 2, 3];
        Assert.That(ReferenceOps.Softmax(logits, 2, 3).Take(3), Is.All.Zero);
        Assert.That(ReferenceOps.LogSumExp(logits, 2, 3)[0], Is.EqualTo(double.NegativeInfinity));
        var ce = ReferenceOps.CrossEntropy(logits, [-100, 2], 2, 3);
        Assert.That(double.IsFinite(ce.Loss) && ce.Gradient.All(double.IsFinite), "ignored masked row");
        var unignored = ReferenceOps.CrossEntropy(logits, [0, 2], 2, 3, RefReduction.None);
        Assert.That(unignored.RowLoss[0], Is.EqualTo(double.PositiveInfinity), "every class is impossible");
        Assert.That(unignored.Gradient.Take(3), Is.EqualTo(new[] { -1.0, 0.0, 0.0 }), "softmax 0 minus the one-hot target");
        Assert.That(ReferenceOps.NaiveCrossEntropy(logits, [0, 2], 2, 3, RefReduction.None).RowLoss[0], Is.EqualTo(NaiveCap).Within(1e-12));
    }

    [Test]
    public void Golden_loader_names_a_missing_file_and_how_to_regenerate_it()
    {
        using var copy = new GoldenCopy();
        File.Delete(copy.File("xent_rows.csv"));
        var e = Assert.Throws<FileNotFoundException>(() => GoldenCases.LoadCrossEntropy(copy.Directory));
        Assert.That(e!.Message, Does.Contain("xent_rows.csv").And.Contain(GoldenCases.RegenerateCommand));
    }

    [TestCase("xent_logits.csv", "c10_n1_mean,0,3,", "c10_n1_mean,0,3,zero", "not a number")]
    [TestCase("xent_rows.csv", "c10_n1_mean,0,9,", "c10_n1_mean,0,9,1,2,", "line")]
    [TestCase("xent_cases.csv", ",mean,-100,", ",average,-100,", "unknown reduction")]
    [TestCase("xent_values.csv", "c10_n1_mean,", "no_such_case,", "no_such_case")]
    public void Golden_loader_names_a_malformed_file_and_how_to_regenerate_it(string file, string find, string replace, string expected)
    {
        using var copy = new GoldenCopy();
        string text = File.ReadAllText(copy.File(file));
        int at = text.IndexOf(find, StringComparison.Ordinal);
        Assert.That(at, Is.GreaterThanOrEqualTo(0), $"{find} in {file}");
        File.WriteAllText(copy.File(file), string.Concat(text.AsSpan(0, at), replace, text.AsSpan(at + find.Length)));
        var e = Assert.Throws<InvalidDataException>(() => GoldenCases.LoadCrossEntropy(copy.Directory));
        Assert.That(e!.Message, Does.Contain(file).And.Contain(expected).And.Contain(GoldenCases.RegenerateCommand));
    }

    [Test]
    public void Argmax_takes_the_lowest_index_on_ties_and_all_minus_infinity_rows()
    {
        float ninf = float.NegativeInfinity;
        float[] logits = [3, 1, 3, ninf, ninf, ninf, 2, 2, 2, 0, -0f, 0];
        Assert.That(ReferenceOps.Argmax(logits, 4, 3), Is.EqualTo(FirstIndexEverywhere));
    }

    // numpy.argmax on these float32 rows (checked with NumPy 1.x/2.x): the first NaN wins, else the first maximum.
    [TestCase(new[] { float.NaN, 1f, 2f }, 0)]
    [TestCase(new[] { 1f, float.NaN, 5f, float.NaN }, 1)]
    [TestCase(new[] { 1f, float.PositiveInfinity, float.NaN }, 2)]
    [TestCase(new[] { 5f, 5f, float.NaN }, 2)]
    [TestCase(new[] { float.NaN, float.NaN }, 0)]
    [TestCase(new[] { float.NegativeInfinity, float.NaN, float.PositiveInfinity }, 1)]
    [TestCase(new[] { 2f, 7f, 7f, float.NaN }, 3)]
    [TestCase(new[] { 2f, 7f, 7f }, 1)]
    public void Argmax_is_numpys_the_first_NaN_wins(float[] row, int expected)
    {
        ArgumentNullException.ThrowIfNull(row);
        Assert.That(ReferenceOps.Argmax(row, 1, row.Length), Is.EqualTo(new[] { expected }));
        Assert.That(ReferenceOps.CorrectCount(row, [expected], 1, row.Length), Is.EqualTo(1));
    }

    [Test]
    public void Out_of_range_label_is_rejected_with_row_and_value()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() =>
            ReferenceOps.CrossEntropy(new float[6], [0, 3], 2, 3));
        Assert.That(e!.Message, Does.Contain("row 1").And.Contain("3"));
    }

    [Test]
    public void AssertClose_treats_nan_and_infinity_explicitly()
    {
        double inf = double.PositiveInfinity;
        Assert.That(AssertClose.IsClose(double.NaN, double.NaN, 0, 0));
        Assert.That(AssertClose.IsClose(inf, inf, 0, 0));
        Assert.That(AssertClose.IsClose(-inf, inf, 1, 1), Is.False);
        Assert.That(AssertClose.IsClose(1e300, inf, 1, 1), Is.False);
        Assert.That(AssertClose.IsClose(double.NaN, 0, 1, 1), Is.False);
        Assert.That(AssertClose.IsClose(1.0 + 1e-6, 1.0, 0, 1e-6));
        Assert.That(AssertClose.IsClose(1.0 + 1e-5, 1.0, 0, 1e-6), Is.False);
    }

    [Test]
    public void AssertClose_failure_names_the_worst_element_and_the_nmse()
    {
        float[] got = [1f, 2f, 3.5f, 4f];
        double[] expected = [1, 2.001, 3, 4];
        var e = Assert.Throws<AssertionException>(() => AssertClose.Tensor(got, expected, 1e-6, 1e-6, "demo", cols: 2));
        Assert.That(e!.Message, Does.Contain("2 of 4").And.Contain("[2] (row 1, col 0)").And.Contain("got 3.5").And.Contain("NMSE"));
    }

    /// <summary>A scratch copy of the golden files, for damaging.</summary>
    private sealed class GoldenCopy : IDisposable
    {
        public string Directory { get; } = System.IO.Directory.CreateTempSubdirectory("sharpmax-golden-").FullName;

        public GoldenCopy()
        {
            foreach (string path in System.IO.Directory.GetFiles(GoldenCases.Directory, "*.csv"))
                System.IO.File.Copy(path, File(Path.GetFileName(path)));
        }

        public string File(string name) => Path.Combine(Directory, name);

        public void Dispose() => System.IO.Directory.Delete(Directory, recursive: true);
    }
}
