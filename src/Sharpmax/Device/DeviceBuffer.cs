using System.Runtime.CompilerServices;

namespace Sharpmax;

/// <summary>
/// An array of <typeparamref name="T"/> in device memory, owned by this object: <see cref="Dispose"/> frees it
/// (and a forgotten buffer is freed by its finalizer, which a leak check still reports until then).
/// Offsets and lengths are in elements.
/// </summary>
/// <typeparam name="T">An unmanaged element type, laid out as the kernel expects (float, int, byte…).</typeparam>
public sealed class DeviceBuffer<T> : IDisposable, IDeviceMemory
    where T : unmanaged
{
    private readonly DeviceMemoryHandle _memory;

    internal DeviceBuffer(Device device, long length, DeviceMemoryHandle memory)
    {
        Device = device;
        Length = length;
        _memory = memory;
    }

    /// <summary>Number of elements.</summary>
    public long Length { get; }

    /// <summary>Size in bytes (<see cref="Length"/> × sizeof(<typeparamref name="T"/>)).</summary>
    public long SizeInBytes => Length * Unsafe.SizeOf<T>();

    /// <summary>The device that owns the memory.</summary>
    public Device Device { get; }

    /// <summary>The device address of element 0 (0 for an empty buffer).</summary>
    /// <exception cref="ObjectDisposedException">The buffer was disposed.</exception>
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Naming", "CA1720:Identifier contains type name",
        Justification = "It is the buffer's device pointer; the name is the one the API plan and CUDA users expect.")]
    public ulong Pointer
    {
        get
        {
            ThrowIfDisposed();
            return _memory.Pointer;
        }
    }

    /// <summary>True after <see cref="Dispose"/>.</summary>
    public bool IsDisposed => _memory.IsClosed;

    /// <summary>The buffer as a pointer argument of a kernel.</summary>
    /// <param name="buffer">The buffer; it must stay alive until the launch returns.</param>
    /// <exception cref="ObjectDisposedException">The buffer was disposed.</exception>
    public static implicit operator KernelArg(DeviceBuffer<T> buffer)
    {
        ArgumentNullException.ThrowIfNull(buffer);
        return buffer.At(0);
    }

    /// <summary>A pointer argument to element <paramref name="offset"/>, for kernels that take a slice.</summary>
    /// <param name="offset">Element index, 0 to <see cref="Length"/> inclusive.</param>
    /// <returns>The kernel argument.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="offset"/> is outside the buffer.</exception>
    /// <exception cref="ObjectDisposedException">The buffer was disposed.</exception>
    public KernelArg At(long offset)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(offset, Length);
        return new KernelArg(Pointer + (ulong)(offset * Unsafe.SizeOf<T>()), this);
    }

    /// <summary>Copies host data into the buffer, starting at element <paramref name="offset"/>.</summary>
    /// <param name="source">The elements to copy.</param>
    /// <param name="offset">First element of the buffer to write.</param>
    /// <exception cref="ArgumentOutOfRangeException">The range does not fit in the buffer.</exception>
    /// <exception cref="ObjectDisposedException">The buffer or its device was disposed.</exception>
    public unsafe void CopyFrom(ReadOnlySpan<T> source, long offset = 0)
    {
        var destination = Address(offset, source.Length, nameof(source));
        if (source.IsEmpty)
            return;
        var context = Device.ContextForUse();
        Device.Counters.HostToDevice();
        fixed (T* host = source)
            CudaCheck.Check(context.Api, context.Api.cuMemcpyHtoD_v2(destination, host, Bytes(source.Length)));
    }

    /// <summary>Copies <c>destination.Length</c> elements, starting at element <paramref name="offset"/>, to the host.</summary>
    /// <param name="destination">Where the elements go; its length is the count copied.</param>
    /// <param name="offset">First element of the buffer to read.</param>
    /// <exception cref="ArgumentOutOfRangeException">The range does not fit in the buffer.</exception>
    /// <exception cref="ObjectDisposedException">The buffer or its device was disposed.</exception>
    public unsafe void CopyTo(Span<T> destination, long offset = 0)
    {
        var source = Address(offset, destination.Length, nameof(destination));
        if (destination.IsEmpty)
            return;
        var context = Device.ContextForUse();
        Device.Counters.DeviceToHost();
        fixed (T* host = destination)
            CudaCheck.Check(context.Api, context.Api.cuMemcpyDtoH_v2(host, source, Bytes(destination.Length)));
    }

    /// <summary>Copies the whole buffer into another buffer of the same device and length.</summary>
    /// <param name="destination">The buffer to overwrite.</param>
    /// <exception cref="ArgumentException">The buffers differ in device or length.</exception>
    /// <exception cref="ObjectDisposedException">A buffer or the device was disposed.</exception>
    public unsafe void CopyTo(DeviceBuffer<T> destination)
    {
        ArgumentNullException.ThrowIfNull(destination);
        if (destination.Device != Device)
            throw new ArgumentException($"The destination belongs to another device ({destination.Device.Name}).", nameof(destination));
        if (destination.Length != Length)
            throw new ArgumentException($"The destination has {destination.Length} elements, the source {Length}.", nameof(destination));
        var source = Pointer;
        var target = destination.Pointer;
        if (Length == 0)
            return;
        var context = Device.ContextForUse();
        Device.Counters.DeviceToDevice();
        CudaCheck.Check(context.Api, context.Api.cuMemcpyDtoD_v2(target, source, Bytes(Length)));
    }

    /// <summary>Copies the whole buffer to a new host array.</summary>
    /// <returns>The elements.</returns>
    /// <exception cref="ObjectDisposedException">The buffer or its device was disposed.</exception>
    public T[] ToArray()
    {
        var result = new T[Length];
        CopyTo(result);
        return result;
    }

    /// <summary>Sets every byte of the buffer to zero (0.0f, 0, false for the usual element types).</summary>
    /// <exception cref="ObjectDisposedException">The buffer or its device was disposed.</exception>
    public unsafe void Clear()
    {
        var pointer = Pointer;
        if (Length == 0)
            return;
        var context = Device.ContextForUse();
        Device.Counters.Memset();
        CudaCheck.Check(context.Api, context.Api.cuMemsetD8_v2(pointer, 0, Bytes(Length)));
    }

    /// <summary>Sets every element to <paramref name="value"/>; elements of 1 or 4 bytes only (cuMemsetD8/D32).</summary>
    /// <param name="value">The value for every element.</param>
    /// <exception cref="NotSupportedException">sizeof(<typeparamref name="T"/>) is neither 1 nor 4.</exception>
    /// <exception cref="ObjectDisposedException">The buffer or its device was disposed.</exception>
    public unsafe void Fill(T value)
    {
        var pointer = Pointer;
        var size = Unsafe.SizeOf<T>();
        if (size != 1 && size != 4)
            throw new NotSupportedException($"Fill sets 1- or 4-byte elements; {typeof(T).Name} has {size} bytes.");
        if (Length == 0)
            return;
        var context = Device.ContextForUse();
        Device.Counters.Memset();
        if (size == 1)
            CudaCheck.Check(context.Api, context.Api.cuMemsetD8_v2(pointer, Unsafe.As<T, byte>(ref value), (nuint)Length));
        else
            CudaCheck.Check(context.Api, context.Api.cuMemsetD32_v2(pointer, Unsafe.As<T, uint>(ref value), (nuint)Length));
    }

    /// <summary>Frees the device memory. Safe to call more than once.</summary>
    public void Dispose() => _memory.Dispose();

    /// <inheritdoc/>
    public override string ToString() => $"DeviceBuffer<{typeof(T).Name}>[{Length}] on {Device.Kind}";

    private static nuint Bytes(long count) => (nuint)(count * Unsafe.SizeOf<T>());

    private ulong Address(long offset, int count, string countName)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        if (offset > Length - count)
        {
            throw new ArgumentOutOfRangeException(countName,
                $"Elements [{offset}, {offset + count}) do not fit in a buffer of {Length} elements.");
        }

        return Pointer + (ulong)(offset * Unsafe.SizeOf<T>());
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_memory.IsClosed, this);
}
