using System.Runtime.InteropServices;

namespace Sharpmax;

/// <summary>Owns one CUevent; holds a reference on its context until it is destroyed.</summary>
internal sealed class EventHandle : SafeHandle
{
    private readonly PrimaryContextHandle _context;
    private readonly bool _holdsContext;

    private EventHandle(PrimaryContextHandle context)
        : base(0, ownsHandle: true)
    {
        _context = context;
        context.DangerousAddRef(ref _holdsContext);
    }

    public override bool IsInvalid => false;

    public static unsafe EventHandle Create(PrimaryContextHandle context)
    {
        var owner = new EventHandle(context);
        try
        {
            context.MakeCurrent();
            nint cuEvent;
            CudaCheck.Check(context.Api, context.Api.cuEventCreate(&cuEvent, 0));
            owner.SetHandle(cuEvent);
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
        var destroyed = handle == 0 || (_context.TryMakeCurrent() && _context.Api.cuEventDestroy_v2(handle) == 0);
        _context.DangerousRelease();
        return destroyed;
    }
}
