namespace Sharpmax;

/// <summary>
/// A point in a device's work, for timing: <see cref="Record"/> two events around some launches, then
/// <see cref="ElapsedMilliseconds"/>. On the CPU device every call is synchronous, so this measures wall time.
/// </summary>
public sealed class DeviceEvent : IDisposable
{
    private readonly EventHandle _handle;

    internal DeviceEvent(Device device, EventHandle handle)
    {
        Device = device;
        _handle = handle;
    }

    /// <summary>The device whose work this event marks.</summary>
    public Device Device { get; }

    /// <summary>Marks the current end of the device's work (the default stream).</summary>
    /// <exception cref="ObjectDisposedException">The event or its device was disposed.</exception>
    public unsafe void Record()
    {
        var context = Device.ContextForUse();
        var cuEvent = Handle();
        CudaCheck.Check(context.Api, context.Api.cuEventRecord(cuEvent, 0));
    }

    /// <summary>Waits until the work recorded before this event has finished.</summary>
    /// <exception cref="ObjectDisposedException">The event or its device was disposed.</exception>
    public unsafe void Synchronize()
    {
        var context = Device.ContextForUse();
        var cuEvent = Handle();
        Device.Counters.Synchronization();
        CudaCheck.Check(context.Api, context.Api.cuEventSynchronize(cuEvent));
    }

    /// <summary>The time between two recorded events of one device, in milliseconds; waits for <paramref name="end"/>.</summary>
    /// <param name="start">The earlier event.</param>
    /// <param name="end">The later event.</param>
    /// <returns>Milliseconds from <paramref name="start"/> to <paramref name="end"/> (about 0.5 µs resolution on a GPU).</returns>
    /// <exception cref="ArgumentException">The events belong to different devices.</exception>
    /// <exception cref="CudaException">An event was never recorded (CUDA_ERROR_INVALID_HANDLE or CUDA_ERROR_NOT_READY).</exception>
    public static unsafe float ElapsedMilliseconds(DeviceEvent start, DeviceEvent end)
    {
        ArgumentNullException.ThrowIfNull(start);
        ArgumentNullException.ThrowIfNull(end);
        if (start.Device != end.Device)
            throw new ArgumentException($"The events belong to different devices ({start.Device.Name} and {end.Device.Name}).", nameof(end));
        end.Synchronize();
        var context = start.Device.ContextForUse();
        float milliseconds;
        CudaCheck.Check(context.Api, context.Api.cuEventElapsedTime(&milliseconds, start.Handle(), end.Handle()));
        return milliseconds;
    }

    /// <summary>Destroys the event.</summary>
    public void Dispose() => _handle.Dispose();

    private nint Handle()
    {
        ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
        return _handle.DangerousGetHandle();
    }
}
