using System.Globalization;

namespace Sharpmax.Ops;

/// <summary>Argument checks for ops on N×C row-major matrices with a row stride, run before any launch.</summary>
internal static class RowShapes
{
    /// <summary>Checks N and C, resolves a row stride of 0 to C, and returns it.</summary>
    public static int Stride(int n, int c, int ld, string ldName)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(c);
        ArgumentOutOfRangeException.ThrowIfNegative(ld, ldName);
        if (ld == 0)
            return c;
        if (ld < c)
            throw new ArgumentOutOfRangeException(ldName, ld, $"The row stride {ldName} = {ld} is shorter than a row (C = {c}).");
        return ld;
    }

    /// <summary>Floats an N×C matrix with row stride <paramref name="ld"/> spans.</summary>
    public static long Span(int n, int c, int ld) => n == 0 ? 0 : (long)(n - 1) * ld + c;

    /// <summary>Checks that <paramref name="buffer"/> is on <paramref name="device"/> and holds an N×C matrix.</summary>
    public static void Matrix(Device device, DeviceBuffer<float> buffer, int n, int c, int ld, string name, string shapeOf)
    {
        ArgumentNullException.ThrowIfNull(buffer, name);
        SameDevice(device, buffer.Device, name);
        long needed = Span(n, c, ld);
        if (buffer.Length < needed)
            throw new ArgumentException(
                string.Create(CultureInfo.InvariantCulture,
                    $"{name} holds {buffer.Length} floats, but {shapeOf} N×C = {n}×{c} with row stride {ld} needs {needed}."),
                name);
    }

    /// <summary>Checks that <paramref name="buffer"/> is on <paramref name="device"/> and holds one element per row.</summary>
    public static void PerRow<T>(Device device, DeviceBuffer<T> buffer, int n, int c, string name, string what)
        where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(buffer, name);
        SameDevice(device, buffer.Device, name);
        if (buffer.Length < n)
            throw new ArgumentException(
                string.Create(CultureInfo.InvariantCulture,
                    $"{name} holds {buffer.Length} {what}, but the logits have N×C = {n}×{c}: one per row needs {n}."),
                name);
    }

    public static void SameDevice(Device device, Device other, string name)
    {
        if (!ReferenceEquals(device, other))
            throw new ArgumentException($"{name} lives on another device ({other.Description}); this op runs on {device.Description}.", name);
    }
}
