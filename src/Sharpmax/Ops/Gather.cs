using static Sharpmax.Ops.MatrixChecks;

namespace Sharpmax.Ops;

/// <summary>Picks int32 elements by index (kernels/gather.cu), for the labels of a shuffled batch.</summary>
public static class Gather
{
    /// <summary>
    /// <c>output[i] = source[index[offset + i]]</c> for i &lt; count (<c>source[offset + i]</c> when
    /// <paramref name="index"/> is null). An index value outside the source is caught on the device and writes
    /// <see cref="int.MinValue"/>, which cross-entropy then reports as a label out of range.
    /// </summary>
    /// <param name="source">The elements to pick from.</param>
    /// <param name="index">Positions in <paramref name="source"/>; null picks in order.</param>
    /// <param name="offset">First entry of <paramref name="index"/> (or of the source) to use.</param>
    /// <param name="output">Receives <paramref name="count"/> elements.</param>
    /// <param name="count">Elements to gather, at least 0.</param>
    /// <exception cref="ArgumentException">The range reaches past the index or the source, a buffer is too small,
    /// lives on another device, or the output is an input's buffer.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="offset"/> or <paramref name="count"/> is negative.</exception>
    /// <exception cref="CudaException">The launch failed.</exception>
    public static void Forward(DeviceBuffer<int> source, DeviceBuffer<int>? index, int offset, DeviceBuffer<int> output, int count)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        var device = source.Device;
        Vector(device, output, count, nameof(output), count, static count => Invariant($"gathering {count} elements"));
        if (index is not null)
            Vector(device, index, (long)offset + count, nameof(index), (offset, count), static r => Invariant($"reading entries {r.offset}..{r.offset + r.count - 1L}"));
        else
            Vector(device, source, (long)offset + count, nameof(source), (offset, count), static r => Invariant($"reading elements {r.offset}..{r.offset + r.count - 1L}"));
        if (ReferenceEquals(output, source) || ReferenceEquals(output, index))
            throw new ArgumentException("The output shares a buffer with an input.", nameof(output));
        if (source.Length > int.MaxValue)
            throw new ArgumentException(Invariant($"The source holds {source.Length} elements, more than a launch indexes ({int.MaxValue})."), nameof(source));
        if (count == 0)
            return;
        var (grid, block) = ContiguousRuns.For(device, count);
        device.Launch(device.Kernel("gather_forward_i32"), grid, block, 0, source, (int)source.Length,
            index is null ? 0UL : index, offset, output, count);
    }
}
