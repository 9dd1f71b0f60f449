using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Sharpmax;

/// <summary>
/// A few elements of page-locked host memory (cuMemAllocHost), where results copied back from the device land:
/// a GPU copies into it directly, without staging through a driver buffer. It holds a reference on the device's
/// context until it is freed (Dispose or finalizer). The CPU device's runtime mallocs it.
/// </summary>
/// <typeparam name="T">An unmanaged element type.</typeparam>
internal sealed unsafe class PinnedHostBuffer<T> : SafeHandle
    where T : unmanaged
{
    private readonly PrimaryContextHandle _context;
    private readonly bool _holdsContext;

    private PinnedHostBuffer(PrimaryContextHandle context, int length)
        : base(0, ownsHandle: true)
    {
        _context = context;
        Length = length;
        context.DangerousAddRef(ref _holdsContext);
    }

    /// <summary>Number of elements.</summary>
    public int Length { get; }

    public override bool IsInvalid => false;

    /// <summary>The elements, valid until the buffer is disposed.</summary>
    public Span<T> Span
    {
        get
        {
            ObjectDisposedException.ThrowIf(IsClosed, this);
            return new Span<T>((void*)handle, Length);
        }
    }

    /// <summary>Allocates <paramref name="length"/> elements (at least one) on <paramref name="device"/>'s context.</summary>
    public static PinnedHostBuffer<T> Allocate(Device device, int length)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(length);
        var context = device.ContextForUse();
        var buffer = new PinnedHostBuffer<T>(context, length);
        try
        {
            void* pointer;
            CudaCheck.Check(context.Api, context.Api.cuMemAllocHost_v2(&pointer, (nuint)(length * Unsafe.SizeOf<T>())),
                $"cuMemAllocHost_v2(&pointer, {length * Unsafe.SizeOf<T>()})");
            buffer.SetHandle((nint)pointer);
            return buffer;
        }
        catch
        {
            buffer.Dispose();
            throw;
        }
    }

    protected override bool ReleaseHandle()
    {
        if (!_holdsContext)
            return true;
        var freed = true;
        if (handle != 0)
        {
            // May run on the finalizer thread, where the context is not yet current.
            freed = _context.TryMakeCurrent() && _context.Api.cuMemFreeHost((void*)handle) == 0;
            handle = 0;
        }

        _context.DangerousRelease();
        return freed;
    }
}
