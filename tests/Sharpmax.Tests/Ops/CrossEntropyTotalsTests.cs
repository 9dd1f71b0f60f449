using NUnit.Framework;
using Sharpmax.Ops;
using Sharpmax.Tests.Reference;

namespace Sharpmax.Tests.Ops;

/// <summary>
/// The device-side forms (ForwardInto, ForwardBackwardInto) against the synchronous ones: the same gradients and,
/// through <see cref="CrossEntropyTotals"/>, the same loss sum a host would form from the returned losses, bit for
/// bit; bad labels and non-finite losses recorded against the call that had them; and no copy or wait per call.
/// </summary>
[TestFixture(DeviceKind.Cpu)]
[TestFixture(DeviceKind.Cuda)]
public sealed class CrossEntropyTotalsTests(DeviceKind kind) : DeviceTestBase(kind)
{
    private const int C = 10;
    private static readonly int[] s_rows = [7, 16, 3, 16, 1];

    private ICrossEntropy Make(bool fused, CrossEntropyOptions options) =>
        fused ? new FusedCrossEntropy(Device, options) : new NaiveCrossEntropy(Device, options);

    private static IEnumerable<TestCaseData> Forms()
    {
        foreach (bool fused in new[] { true, false })
            foreach (var reduction in new[] { Reduction.Mean, Reduction.Sum })
                foreach (float smoothing in new[] { 0f, 0.1f })
                    yield return new TestCaseData(fused, reduction, smoothing);
    }

    [TestCaseSource(nameof(Forms))]
    public void The_device_side_form_gives_the_synchronous_losses_sum_and_gradients_bit_for_bit(bool fused, Reduction reduction, float smoothing)
    {
        var options = new CrossEntropyOptions { Reduction = reduction, LabelSmoothing = smoothing };
        using var sync = Make(fused, options);
        using var deferred = Make(fused, options);
        using var totals = new CrossEntropyTotals(Device);
        var random = new RandomData(11);
        double hostSum = 0;
        foreach (int n in s_rows)
        {
            using var logits = Device.Upload<float>(random.Logits(n, C));
            using var labels = Device.Upload<int>(random.Labels(n, C, ignoreFraction: 0.2));
            using var syncGrad = Device.Allocate<float>(n * C);
            using var deferredGrad = Device.Allocate<float>(n * C);
            float loss = sync.ForwardBackward(logits, labels, n, C, syncGrad);
            hostSum += (double)loss * n;  // what the trainer summed on the host before
            deferred.ForwardBackwardInto(logits, labels, n, C, deferredGrad, totals, weight: n);
            Assert.That(deferredGrad.ToArray(), Is.EqualTo(syncGrad.ToArray()), $"gradient of the {n}-row call");
        }

        var result = totals.Read();
        Assert.That(result.Calls, Is.EqualTo(s_rows.Length));
        Assert.That(result.LossSum, Is.EqualTo(hostSum), "the same double sum, in the same order");
        Assert.That(result.LossSum, Is.Not.Zero);
        Assert.That(result.BadLabel, Is.Null);
        Assert.That(result.NonFinite, Is.Null);
    }

    [Test]
    public void The_forward_only_form_sums_what_forward_returns([Values] bool fused)
    {
        using var op = Make(fused, new CrossEntropyOptions { Reduction = Reduction.Sum });
        using var totals = new CrossEntropyTotals(Device);
        var random = new RandomData(12);
        double hostSum = 0;
        foreach (int n in s_rows)
        {
            using var logits = Device.Upload<float>(random.Logits(n, C));
            using var labels = Device.Upload<int>(random.Labels(n, C));
            hostSum += op.Forward(logits, labels, n, C);
            op.ForwardInto(logits, labels, n, C, totals);
        }
        Assert.That(totals.Read().LossSum, Is.EqualTo(hostSum));
    }

    [Test]
    public void Queued_calls_copy_nothing_and_wait_for_nothing_and_one_read_is_one_copy([Values] bool fused)
    {
        using var op = Make(fused, new CrossEntropyOptions());
        using var totals = new CrossEntropyTotals(Device);
        using var logits = Device.Upload<float>(new RandomData(13).Logits(16, C));
        using var labels = Device.Upload<int>(new RandomData(14).Labels(16, C));
        using var grad = Device.Allocate<float>(16 * C);
        op.ForwardBackwardInto(logits, labels, 16, C, grad, totals);  // workspaces allocated here, not counted below

        var syncBefore = Device.OperationCounts;
        op.ForwardBackward(logits, labels, 16, C, grad);
        var syncCounts = Device.OperationCounts - syncBefore;

        var before = Device.OperationCounts;
        for (int i = 0; i < 20; i++)
            op.ForwardBackwardInto(logits, labels, 16, C, grad, totals);
        var queued = Device.OperationCounts - before;
        Assert.That(queued.HostSynchronizations, Is.Zero, queued.ToString());
        Assert.That(queued.Memsets + queued.DeviceToDeviceCopies, Is.Zero, queued.ToString());
        Assert.That(queued.Launches, Is.EqualTo(20 * syncCounts.Launches), "the same launches as the synchronous form");
        Assert.That(syncCounts.DeviceToHostCopies, Is.EqualTo(1), "the synchronous form reads its result back");

        before = Device.OperationCounts;
        Assert.That(totals.Read().Calls, Is.EqualTo(21));
        Assert.That(Device.OperationCounts - before, Is.EqualTo(new DeviceOperationCounts(0, 0, 1, 0, 0, 0)));
    }

    [Test]
    public void The_first_bad_label_is_kept_with_its_call_row_and_value_and_later_good_calls_stay_clean([Values] bool fused)
    {
        using var op = Make(fused, new CrossEntropyOptions());
        using var totals = new CrossEntropyTotals(Device);
        using var logits = Device.Upload<float>(new RandomData(15).Logits(4, C));
        using var good = Device.Upload<int>([1, 2, 3, 4]);
        using var bad = Device.Upload<int>([1, 12, -3, 4]);
        using var worse = Device.Upload<int>([99, 2, 3, 4]);
        using var grad = Device.Allocate<float>(4 * C);

        op.ForwardBackwardInto(logits, good, 4, C, grad, totals);
        op.ForwardBackwardInto(logits, bad, 4, C, grad, totals);
        op.ForwardBackwardInto(logits, good, 4, C, grad, totals);
        op.ForwardBackwardInto(logits, worse, 4, C, grad, totals);
        var result = totals.Read();

        // The synchronous form names the same row and label for the same call.
        var thrown = Assert.Throws<ArgumentOutOfRangeException>(() => op.ForwardBackward(logits, bad, 4, C, grad))!;
        Assert.That(result.BadLabel, Is.EqualTo(new CrossEntropyBadLabel(1, 1, 12)), "call 1, row 1 (the smallest bad row), label 12");
        Assert.That(thrown.Message, Does.Contain("Label 12 of row 1"));
        Assert.That(result.Calls, Is.EqualTo(4));
        Assert.That(result.NonFinite, Is.Null);

        // The per-call status was cleared on the device: after a reset, a good call records nothing.
        totals.Reset();
        op.ForwardBackwardInto(logits, good, 4, C, grad, totals);
        Assert.That(totals.Read(), Is.EqualTo(new CrossEntropyTotalsResult(1, totals.Read().LossSum, null, null)));
        Assert.That(op.ForwardBackward(logits, good, 4, C, grad), Is.Positive, "the synchronous form still works after a bad call");
    }

    [Test]
    public void The_first_non_finite_loss_is_kept_with_its_call([Values] bool fused)
    {
        using var op = Make(fused, new CrossEntropyOptions());
        using var totals = new CrossEntropyTotals(Device);
        var finite = new RandomData(16).Logits(2, C);
        var infinite = (float[])finite.Clone();
        infinite[3] = float.PositiveInfinity;  // a +inf logit makes the row's loss NaN
        using var finiteLogits = Device.Upload<float>(finite);
        using var infiniteLogits = Device.Upload<float>(infinite);
        using var labels = Device.Upload<int>([0, 5]);
        using var grad = Device.Allocate<float>(2 * C);

        op.ForwardBackwardInto(finiteLogits, labels, 2, C, grad, totals);
        op.ForwardBackwardInto(finiteLogits, labels, 2, C, grad, totals);
        op.ForwardBackwardInto(infiniteLogits, labels, 2, C, grad, totals);
        op.ForwardBackwardInto(finiteLogits, labels, 2, C, grad, totals);
        var result = totals.Read();

        float syncLoss = op.ForwardBackward(infiniteLogits, labels, 2, C, grad);
        Assert.That(result.NonFinite, Is.Not.Null);
        Assert.That(result.NonFinite!.Call, Is.EqualTo(2));
        Assert.That(result.NonFinite.Loss, Is.EqualTo(syncLoss).And.NaN);
        Assert.That(result.LossSum, Is.NaN);
        Assert.That(result.BadLabel, Is.Null);
    }

    [Test]
    public void Reset_zeroes_the_totals_and_an_empty_call_counts_and_adds_nothing()
    {
        using var op = new FusedCrossEntropy(Device);
        using var totals = new CrossEntropyTotals(Device);
        using var logits = Device.Upload<float>(new RandomData(17).Logits(3, C));
        using var labels = Device.Upload<int>([1, 2, 3]);
        using var grad = Device.Allocate<float>(3 * C);
        op.ForwardBackwardInto(logits, labels, 3, C, grad, totals, weight: 3);
        Assert.That(totals.Read().LossSum, Is.Positive);

        totals.Reset();
        Assert.That(totals.Read(), Is.EqualTo(new CrossEntropyTotalsResult(0, 0, null, null)));
        op.ForwardBackwardInto(logits, labels, 0, C, grad, totals, weight: 5);
        Assert.That(totals.Read(), Is.EqualTo(new CrossEntropyTotalsResult(1, 0, null, null)));
    }

    [Test]
    public void A_weight_that_is_not_finite_is_refused([Values(double.NaN, double.PositiveInfinity)] double weight)
    {
        using var op = new FusedCrossEntropy(Device);
        using var totals = new CrossEntropyTotals(Device);
        using var logits = Device.Upload<float>(new RandomData(18).Logits(1, C));
        using var labels = Device.Upload<int>([1]);
        using var grad = Device.Allocate<float>(C);
        Assert.That(() => op.ForwardBackwardInto(logits, labels, 1, C, grad, totals, weight),
            Throws.ArgumentException.With.Message.Contains("must be finite"));
        Assert.That(totals.Read().Calls, Is.Zero, "nothing was launched");
    }
}
