namespace Sharpmax;

/// <summary>
/// One kernel argument: an 8-byte value slot (a scalar in its low bytes, or a device pointer) plus, for a
/// buffer, its owner so that a launch can check that the buffer is alive and belongs to the launching device.
/// The kernel's parameter type decides how many bytes are read, so pass exactly the C type the kernel declares
/// (int for int, float for float, a buffer for a pointer).
/// </summary>
public readonly struct KernelArg : IEquatable<KernelArg>
{
    internal KernelArg(ulong bits, IDeviceMemory? owner = null)
    {
        Bits = bits;
        Owner = owner;
    }

    internal ulong Bits { get; }

    internal IDeviceMemory? Owner { get; }

    /// <summary>An <c>int</c> argument.</summary>
    /// <param name="value">The value.</param>
    public static implicit operator KernelArg(int value) => FromInt32(value);

    /// <summary>An <c>unsigned int</c> argument.</summary>
    /// <param name="value">The value.</param>
    public static implicit operator KernelArg(uint value) => FromUInt32(value);

    /// <summary>A <c>long long</c> argument.</summary>
    /// <param name="value">The value.</param>
    public static implicit operator KernelArg(long value) => FromInt64(value);

    /// <summary>An <c>unsigned long long</c> argument.</summary>
    /// <param name="value">The value.</param>
    public static implicit operator KernelArg(ulong value) => FromUInt64(value);

    /// <summary>A <c>float</c> argument.</summary>
    /// <param name="value">The value.</param>
    public static implicit operator KernelArg(float value) => FromSingle(value);

    /// <summary>A <c>double</c> argument.</summary>
    /// <param name="value">The value.</param>
    public static implicit operator KernelArg(double value) => FromDouble(value);

    /// <summary>An <c>int</c> argument.</summary>
    /// <param name="value">The value.</param>
    /// <returns>The argument.</returns>
    public static KernelArg FromInt32(int value) => new((uint)value);

    /// <summary>An <c>unsigned int</c> argument.</summary>
    /// <param name="value">The value.</param>
    /// <returns>The argument.</returns>
    public static KernelArg FromUInt32(uint value) => new(value);

    /// <summary>A <c>long long</c> argument.</summary>
    /// <param name="value">The value.</param>
    /// <returns>The argument.</returns>
    public static KernelArg FromInt64(long value) => new((ulong)value);

    /// <summary>An <c>unsigned long long</c> argument.</summary>
    /// <param name="value">The value.</param>
    /// <returns>The argument.</returns>
    public static KernelArg FromUInt64(ulong value) => new(value);

    /// <summary>A <c>float</c> argument.</summary>
    /// <param name="value">The value.</param>
    /// <returns>The argument.</returns>
    public static KernelArg FromSingle(float value) => new(BitConverter.SingleToUInt32Bits(value));

    /// <summary>A <c>double</c> argument.</summary>
    /// <param name="value">The value.</param>
    /// <returns>The argument.</returns>
    public static KernelArg FromDouble(double value) => new(BitConverter.DoubleToUInt64Bits(value));

    /// <summary>Compares two arguments by value and owner.</summary>
    /// <param name="left">One argument.</param>
    /// <param name="right">The other.</param>
    /// <returns>True when both hold the same bits and owner.</returns>
    public static bool operator ==(KernelArg left, KernelArg right) => left.Equals(right);

    /// <summary>Compares two arguments by value and owner.</summary>
    /// <param name="left">One argument.</param>
    /// <param name="right">The other.</param>
    /// <returns>True when they differ in bits or owner.</returns>
    public static bool operator !=(KernelArg left, KernelArg right) => !left.Equals(right);

    /// <inheritdoc/>
    public bool Equals(KernelArg other) => Bits == other.Bits && ReferenceEquals(Owner, other.Owner);

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is KernelArg other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Bits, Owner);
}
