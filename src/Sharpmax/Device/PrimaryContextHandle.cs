using System.Runtime.InteropServices;
using Sharpmax.Interop;

namespace Sharpmax;

/// <summary>
/// Owns one retain of a device's primary context and the modules loaded into it. Buffers and events add a
/// reference to this handle while they live, so the context is released only after the last of them is freed:
/// resources first, context last, whichever order Dispose or the finalizer runs in.
/// </summary>
internal sealed class PrimaryContextHandle : SafeHandle
{
    private static long s_nextSerial;

    // The serial of the context this thread last made current (a CUDA current context is per OS thread).
    [ThreadStatic]
    private static long t_currentSerial;

    private readonly List<nint> _modules = [];
    private readonly long _serial = Interlocked.Increment(ref s_nextSerial);
    private long _liveBytes;

    private PrimaryContextHandle(DriverApi api, int device)
        : base(0, ownsHandle: true)
    {
        Api = api;
        CuDevice = device;
    }

    public DriverApi Api { get; }

    /// <summary>The CUdevice whose primary context this is.</summary>
    public int CuDevice { get; }

    /// <summary>Bytes held by buffers of this context (the CUDA device's LiveBytes).</summary>
    public long LiveBytes => Interlocked.Read(ref _liveBytes);

    // The retain happened before construction finished, so the handle always needs its release.
    public override bool IsInvalid => false;

    public static unsafe PrimaryContextHandle Retain(DriverApi api, int device)
    {
        nint context;
        CudaCheck.Check(api, api.cuDevicePrimaryCtxRetain(&context, device));
        var owner = new PrimaryContextHandle(api, device);
        owner.SetHandle(context);
        return owner;
    }

    /// <summary>Makes this context current on the calling thread, unless it already is.</summary>
    public unsafe void MakeCurrent()
    {
        if (t_currentSerial == _serial)
            return;
        CudaCheck.Check(Api, Api.cuCtxSetCurrent(handle));
        t_currentSerial = _serial;
    }

    /// <summary>As <see cref="MakeCurrent"/>, for release paths that cannot throw.</summary>
    public unsafe bool TryMakeCurrent()
    {
        if (t_currentSerial == _serial)
            return true;
        if (Api.cuCtxSetCurrent(handle) != 0)
            return false;
        t_currentSerial = _serial;
        return true;
    }

    /// <summary>Records a module so it is unloaded before the context is released.</summary>
    public void AddModule(nint module)
    {
        lock (_modules)
            _modules.Add(module);
    }

    public void CountAllocation(long bytes) => Interlocked.Add(ref _liveBytes, bytes);

    protected override unsafe bool ReleaseHandle()
    {
        // May run on the finalizer thread: make the context current there first. Errors cannot be reported here.
        _ = TryMakeCurrent();
        lock (_modules)
        {
            foreach (var module in _modules)
                _ = Api.cuModuleUnload(module);
            _modules.Clear();
        }

        var released = Api.cuDevicePrimaryCtxRelease_v2(CuDevice) == 0;
        t_currentSerial = 0;
        return released;
    }
}
