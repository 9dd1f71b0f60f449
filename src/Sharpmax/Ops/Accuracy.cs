using static Sharpmax.Ops.MatrixChecks;

namespace Sharpmax.Ops;

/// <summary>
/// Predicted classes and correct counts of N×C logit rows (kernels/accuracy.cu). The prediction of a row is its
/// argmax as numpy.argmax computes it: ties go to the lowest index, and a NaN counts as larger than everything
/// (the first NaN wins).
/// </summary>
public static class Accuracy
{
    /// <summary>Writes the argmax of each row.</summary>
    /// <param name="logits">The logits, N×C, any row stride.</param>
    /// <param name="predictions">Receives N class indices.</param>
    /// <exception cref="ArgumentException">A buffer is too small for its shape or lives on another device.</exception>
    /// <exception cref="CudaException">The launch failed.</exception>
    public static void Argmax(DeviceMatrix logits, DeviceBuffer<int> predictions)
    {
        var device = DeviceOf(logits);
        Matrix(device, logits, nameof(logits), dense: false);
        Vector(device, predictions, logits.Rows, nameof(predictions), logits, OnePerRow);
        if (logits.Rows == 0)
            return;
        var (grid, block) = ContiguousRuns.For(device, logits.Rows);
        device.Launch(device.Kernel("argmax_forward_f32"), grid, block, 0, logits.Buffer, logits.Stride, predictions, logits.Rows, logits.Cols);
    }

    /// <summary>Adds to <c>counter[0]</c> the number of rows whose argmax equals their label, on the device, so a
    /// whole epoch can be counted without reading anything back. Labels outside [0, C) never count.</summary>
    /// <param name="logits">The logits, N×C, any row stride.</param>
    /// <param name="labels">N labels.</param>
    /// <param name="counter">An int32 counter at element 0; the caller zeroes it (<see cref="DeviceBuffer{T}.Clear"/>).</param>
    /// <exception cref="ArgumentException">A buffer is too small for its shape or lives on another device.</exception>
    /// <exception cref="CudaException">The launch failed.</exception>
    public static void AddCorrect(DeviceMatrix logits, DeviceBuffer<int> labels, DeviceBuffer<int> counter)
    {
        var device = DeviceOf(logits);
        Matrix(device, logits, nameof(logits), dense: false);
        Vector(device, labels, logits.Rows, nameof(labels), logits, OnePerRow);
        Vector(device, counter, 1, nameof(counter), "the count");
        if (logits.Rows == 0)
            return;
        var (grid, block) = ContiguousRuns.For(device, logits.Rows);
        device.Launch(device.Kernel("accuracy_forward_f32"), grid, block, 0, logits.Buffer, logits.Stride, labels, counter, logits.Rows, logits.Cols);
    }

    /// <summary>The number of rows whose argmax equals their label (allocates a one-int counter and reads it back).</summary>
    /// <param name="logits">The logits, N×C, any row stride.</param>
    /// <param name="labels">N labels.</param>
    /// <returns>The correct count, 0 to N.</returns>
    /// <exception cref="ArgumentException">A buffer is too small for its shape or lives on another device.</exception>
    /// <exception cref="CudaException">The launch failed.</exception>
    public static int CountCorrect(DeviceMatrix logits, DeviceBuffer<int> labels)
    {
        var device = DeviceOf(logits);
        using var counter = device.AllocateZeroed<int>(1);
        AddCorrect(logits, labels, counter);
        Span<int> count = stackalloc int[1];
        counter.CopyTo(count);
        return count[0];
    }

    private static string OnePerRow(DeviceMatrix logits) => Invariant($"one per row of the {logits} logits");

    private static Device DeviceOf(DeviceMatrix logits) =>
        logits.Buffer?.Device ?? throw new ArgumentException("The logits have no buffer.", nameof(logits));
}
