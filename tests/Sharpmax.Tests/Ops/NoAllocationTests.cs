// The trainer's per-batch op sequence allocates no managed memory once warmed up: no garbage per batch, so no
// collections in the middle of an epoch. Measured with GC.GetAllocatedBytesForCurrentThread around each op, over
// 20 steps after 3 warm-up steps (type loading, kernel lookups and the ops' caches happen in those), on this thread.
using NUnit.Framework;
using Sharpmax.Ops;
using Sharpmax.Tests.Reference;

namespace Sharpmax.Tests.Ops;

[TestFixture(DeviceKind.Cpu)]
[TestFixture(DeviceKind.Cuda)]
public sealed class NoAllocationTests(DeviceKind kind) : DeviceTestBase(kind)
{
    private const int WarmUpSteps = 3;
    private const int MeasuredSteps = 20;

    [Test]
    public void A_warmed_up_training_step_allocates_no_managed_memory([Values] bool pixelInput, [Values] bool fused)
    {
        const int n = 64, k = 784, c = 10, imageCount = 200;
        var rng = new RandomData(21);
        using var images = Device.Upload<byte>(rng.Pixels((long)imageCount * k));
        using var index = Device.Upload<int>(Enumerable.Range(0, imageCount).Reverse().ToArray());
        using var allLabels = Device.Upload<int>(rng.Labels(imageCount, c));
        using var floatInput = Device.Upload<float>(rng.Matrix(n, k));
        using var labels = Device.Allocate<int>(n);
        using var logits = Device.Allocate<float>(n * c);
        using var gradLogits = Device.Allocate<float>(n * c);
        using var weights = Device.Upload<float>(rng.Matrix(k, c, 0.01));
        using var bias = Device.AllocateZeroed<float>(c);
        using var gradWeights = Device.Allocate<float>(k * c);
        using var gradBias = Device.Allocate<float>(c);
        using var correct = Device.AllocateZeroed<int>(1);
        using var totals = new CrossEntropyTotals(Device);
        var options = new CrossEntropyOptions { Reduction = Reduction.Mean, LabelSmoothing = 0.1f };
        using ICrossEntropy loss = fused ? new FusedCrossEntropy(Device, options) : new NaiveCrossEntropy(Device, options);
        var linear = new Linear(Device);
        var pixels = new PixelRows(images, n, k, index, Offset: 100);
        var x = new DeviceMatrix(floatInput, n, k);
        var w = new DeviceMatrix(weights, k, c);
        var dw = new DeviceMatrix(gradWeights, k, c);
        var y = new DeviceMatrix(logits, n, c);
        var dy = new DeviceMatrix(gradLogits, n, c);

        // The trainer's loop body (src/Sharpmax.Cli/Training/Trainer.cs), one op per entry.
        (string Name, Action Run)[] step =
        [
            ("Gather.Forward", () => Gather.Forward(allLabels, index, pixels.Offset, labels, n)),
            ("Linear.Forward", () =>
            {
                if (pixelInput)
                    linear.Forward(pixels, w, bias, y);
                else
                    linear.Forward(x, w, bias, y);
            }),
            ("ICrossEntropy.ForwardBackward", () => loss.ForwardBackward(logits, labels, n, c, gradLogits)),
            ("ICrossEntropy.ForwardBackwardInto", () => loss.ForwardBackwardInto(logits, labels, n, c, gradLogits, totals, weight: n)),
            ("Accuracy.AddCorrect", () => Accuracy.AddCorrect(y, labels, correct)),
            ("Linear.BackwardWeight", () =>
            {
                if (pixelInput)
                    linear.BackwardWeight(pixels, dy, dw);
                else
                    linear.BackwardWeight(x, dy, dw);
            }),
            ("Linear.BackwardBias", () => linear.BackwardBias(dy, gradBias)),
            ("Sgd.Step (weights)", () => Sgd.Step(weights, gradWeights, 0.1f, 1e-4f)),
            ("Sgd.Step (bias)", () => Sgd.Step(bias, gradBias, 0.1f)),
        ];

        for (int i = 0; i < WarmUpSteps; i++)
            foreach (var (_, run) in step)
                run();
        var allocated = new long[step.Length];
        for (int i = 0; i < MeasuredSteps; i++)
        {
            for (int op = 0; op < step.Length; op++)
            {
                long before = GC.GetAllocatedBytesForCurrentThread();
                step[op].Run();
                allocated[op] += GC.GetAllocatedBytesForCurrentThread() - before;
            }
        }

        var offenders = step.Select((s, op) => $"{s.Name}: {allocated[op] / MeasuredSteps} B/step").Where((_, op) => allocated[op] != 0);
        Assert.That(allocated.Sum(), Is.Zero, $"bytes allocated per warmed-up step: {string.Join(", ", offenders)}");
    }
}
