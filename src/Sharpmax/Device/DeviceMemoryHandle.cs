using System.Runtime.InteropServices;

namespace Sharpmax;

/// <summary>
/// Owns one device allocation. It holds a reference on its context from construction to release, and is
/// released exactly once (Dispose or finalizer), also when the allocation itself failed or had zero bytes.
/// </summary>
internal sealed class DeviceMemoryHandle : SafeHandle
{
    private readonly PrimaryContextHandle _context;
    private readonly bool _holdsContext;
    private ulong _pointer;
    private long _bytes;

    private DeviceMemoryHandle(PrimaryContextHandle context)
        : base(0, ownsHandle: true)
    {
        _context = context;
        context.DangerousAddRef(ref _holdsContext);
    }

    public ulong Pointer => _pointer;

    public override bool IsInvalid => false;

    /// <summary>Allocates <paramref name="bytes"/> bytes (none for zero); nothing is leaked when it throws.</summary>
    public static unsafe DeviceMemoryHandle Allocate(PrimaryContextHandle context, long bytes)
    {
        var owner = new DeviceMemoryHandle(context);
        if (bytes == 0)
            return owner;
        try
        {
            context.MakeCurrent();
            ulong pointer;
            CudaCheck.Check(context.Api, context.Api.cuMemAlloc_v2(&pointer, (nuint)bytes));
            owner._pointer = pointer;
            owner._bytes = bytes;
            owner.SetHandle((nint)pointer);
            context.CountAllocation(bytes);
            return owner;
        }
        catch
        {
            owner.Dispose();
            throw;
        }
    }

    protected override unsafe bool ReleaseHandle()
    {
        if (!_holdsContext)
            return true;
        var freed = true;
        if (_pointer != 0)
        {
            // May run on the finalizer thread, where the context is not yet current.
            freed = _context.TryMakeCurrent() && _context.Api.cuMemFree_v2(_pointer) == 0;
            _context.CountAllocation(-_bytes);
            _pointer = 0;
        }

        _context.DangerousRelease();
        return freed;
    }
}
