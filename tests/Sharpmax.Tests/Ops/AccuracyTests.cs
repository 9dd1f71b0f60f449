// Argmax and correct counts (kernels/accuracy.cu) through the Accuracy op, on every device, against the float64
// reference and NumPy's golden cases. Results are integers: compared exactly.
using NUnit.Framework;
using Sharpmax.Ops;
using Sharpmax.Tests.Reference;

namespace Sharpmax.Tests.Ops;

[TestFixture(DeviceKind.Cpu)]
[TestFixture(DeviceKind.Cuda)]
public sealed class AccuracyTests(DeviceKind kind) : DeviceTestBase(kind)
{
    [Test]
    public void Argmax_and_count_match_the_reference([Values(1, 37, 1000, 50000)] int n, [Values(1, 10, 1000)] int c)
    {
        Assume.That((long)n * c <= 10_000_000, "the largest shapes take long in the reference");
        var rng = new RandomData((ulong)(n * 31 + c));
        var logits = rng.Logits(n, c);
        var labels = rng.Labels(n, c);
        using var lb = Device.Upload<float>(logits);
        using var yb = Device.Upload<int>(labels);
        using var pb = Device.Allocate<int>(n);
        var x = new DeviceMatrix(lb, n, c);
        Accuracy.Argmax(x, pb);
        Assert.That(pb.ToArray(), Is.EqualTo(ReferenceOps.Argmax(logits, n, c)));
        Assert.That(Accuracy.CountCorrect(x, yb), Is.EqualTo(ReferenceOps.CorrectCount(logits, labels, n, c)));
    }

    [Test]
    public void Strided_rows_are_read_up_to_C()
    {
        const int n = 9, c = 10, ld = 13;
        var logits = new RandomData(5).Logits(n, ld);
        for (int i = 0; i < n; i++)
            logits[i * ld + c] = 1e9f; // in the gap after each row: must not be chosen
        using var lb = Device.Upload<float>(logits);
        using var pb = Device.Allocate<int>(n);
        Accuracy.Argmax(new DeviceMatrix(lb, n, c, ld), pb);
        Assert.That(pb.ToArray(), Is.EqualTo(ReferenceOps.Argmax(logits, n, c, ld)));
    }

    // numpy.argmax: the first maximum wins, and NaN is larger than everything (np.argmax([1, nan, 5, nan]) == 1).
    [TestCase(new[] { 3f, 3f, 3f }, 0)]
    [TestCase(new[] { 1f, 5f, 5f }, 1)]
    [TestCase(new[] { float.NaN, 1f, 2f }, 0)]
    [TestCase(new[] { 1f, float.NaN, 5f, float.NaN }, 1)]
    [TestCase(new[] { 1f, float.PositiveInfinity, float.NaN }, 2)]
    [TestCase(new[] { float.NegativeInfinity, float.NegativeInfinity }, 0)]
    [TestCase(new[] { float.NegativeInfinity, -1e30f }, 1)]
    [TestCase(new[] { float.PositiveInfinity, float.PositiveInfinity }, 0)]
    [TestCase(new[] { -0f, 0f }, 0)]
    [TestCase(new[] { 7f }, 0)]
    public void Ties_go_to_the_lowest_index_and_the_first_NaN_wins(float[] row, int expected)
    {
        ArgumentNullException.ThrowIfNull(row);
        using var lb = Device.Upload<float>(row);
        using var pb = Device.Allocate<int>(1);
        using var yb = Device.Upload<int>([expected]);
        var x = new DeviceMatrix(lb, 1, row.Length);
        Accuracy.Argmax(x, pb);
        Assert.That(pb.ToArray()[0], Is.EqualTo(expected));
        Assert.That(Accuracy.CountCorrect(x, yb), Is.EqualTo(1));
    }

    [Test]
    public void Rows_with_NaN_entries_match_the_reference([Values(10, 1000)] int c)
    {
        // Every third row gets NaNs at seeded places (some before the max, some after, some rows two); the kernel
        // and the reference must both take the first NaN, as numpy.argmax does.
        const int n = 300;
        var rng = new RandomData((ulong)c + 7);
        var logits = rng.Logits(n, c);
        for (int r = 0; r < n; r += 3)
        {
            logits[r * c + rng.NextInt(c)] = float.NaN;
            if (r % 2 == 0)
                logits[r * c + rng.NextInt(c)] = float.NaN;
        }
        var labels = ReferenceOps.Argmax(logits, n, c);
        for (int r = 0; r < n; r += 4)
            labels[r] = (labels[r] + 1) % c; // some rows wrong, NaN rows among them
        using var lb = Device.Upload<float>(logits);
        using var yb = Device.Upload<int>(labels);
        using var pb = Device.Allocate<int>(n);
        var x = new DeviceMatrix(lb, n, c);
        Accuracy.Argmax(x, pb);
        Assert.That(pb.ToArray(), Is.EqualTo(ReferenceOps.Argmax(logits, n, c)));
        Assert.That(Accuracy.CountCorrect(x, yb), Is.EqualTo(ReferenceOps.CorrectCount(logits, labels, n, c)));
    }

    [TestCaseSource(typeof(GoldenCases), nameof(GoldenCases.CrossEntropyNames))]
    public void Argmax_and_count_match_the_NumPy_golden_case(string name)
    {
        var g = GoldenCases.CrossEntropyCase(name);
        using var lb = Device.Upload<float>(g.Logits);
        using var yb = Device.Upload<int>(g.Labels);
        using var pb = Device.Allocate<int>(g.N);
        var x = new DeviceMatrix(lb, g.N, g.C);
        Accuracy.Argmax(x, pb);
        var predictions = pb.ToArray();
        foreach (var row in g.Rows)
            Assert.That(predictions[row.Row], Is.EqualTo(row.Argmax), $"{name} row {row.Row}");
        Assert.That(Accuracy.CountCorrect(x, yb), Is.EqualTo(g.Correct), name);
    }

    [Test]
    public void The_counter_adds_up_over_batches_and_labels_out_of_range_never_count()
    {
        const int n = 100_000, c = 10;
        var rng = new RandomData(6);
        var logits = rng.Logits(n, c);
        var labels = rng.Labels(n, c);
        labels[0] = -100;
        labels[1] = c;
        labels[2] = int.MinValue;
        using var lb = Device.Upload<float>(logits);
        using var yb = Device.Upload<int>(labels);
        using var counter = Device.AllocateZeroed<int>(1);
        var x = new DeviceMatrix(lb, n, c);
        Accuracy.AddCorrect(x, yb, counter);
        Accuracy.AddCorrect(x, yb, counter);
        Assert.That(counter.ToArray()[0], Is.EqualTo(2 * ReferenceOps.CorrectCount(logits, labels, n, c)));
    }

    [Test]
    public void Buffers_too_small_are_rejected()
    {
        using var lb = Device.Allocate<float>(37 * 10);
        using var shortBuffer = Device.Allocate<int>(36);
        Assert.That(() => Accuracy.Argmax(new DeviceMatrix(lb, 37, 10), shortBuffer),
            Throws.ArgumentException.With.Message.Contains("predictions holds 36").And.Message.Contains("37×10"));
        Assert.That(() => Accuracy.CountCorrect(new DeviceMatrix(lb, 37, 10), shortBuffer),
            Throws.ArgumentException.With.Message.Contains("labels holds 36").And.Message.Contains("37×10"));
        Assert.That(() => Accuracy.CountCorrect(new DeviceMatrix(lb, 38, 10), shortBuffer),
            Throws.ArgumentException.With.Message.Contains("logits is 38×10"));
    }
}
