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
    private readonly List<nint> _modules = [];
    private long _liveBytes;
    private long _peakBytes;

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

    /// <summary>Makes this context current on the calling thread, unless it already is. Asked of the driver every
    /// time (cuCtxGetCurrent, a thread-local read there), not remembered: other code on the thread (cuBLAS, another
    /// library, a raw driver call) may have made another context current, or none, since the last call.</summary>
    public unsafe void MakeCurrent()
    {
        if (IsCurrent())
            return;
        CudaCheck.Check(Api, Api.cuCtxSetCurrent(handle));
    }

    /// <summary>As <see cref="MakeCurrent"/>, for release paths that cannot throw.</summary>
    public unsafe bool TryMakeCurrent() => IsCurrent() || Api.cuCtxSetCurrent(handle) == 0;

    /// <summary>Records a module so it is unloaded before the context is released.</summary>
    public void AddModule(nint module)
    {
        lock (_modules)
            _modules.Add(module);
    }

    /// <summary>The most bytes its buffers held at once since the last <see cref="ResetPeak"/>.</summary>
    public long PeakBytes => Interlocked.Read(ref _peakBytes);

    public void CountAllocation(long bytes)
    {
        long live = Interlocked.Add(ref _liveBytes, bytes);
        long peak = Interlocked.Read(ref _peakBytes);
        while (live > peak)
        {
            long seen = Interlocked.CompareExchange(ref _peakBytes, live, peak);
            if (seen == peak)
                break;
            peak = seen;
        }
    }

    /// <summary>Starts a new high-water mark at the bytes held now, and returns them.</summary>
    public long ResetPeak()
    {
        long live = Interlocked.Read(ref _liveBytes);
        Interlocked.Exchange(ref _peakBytes, live);
        return live;
    }

    private unsafe bool IsCurrent()
    {
        nint current;
        return Api.cuCtxGetCurrent(&current) == 0 && current == handle;
    }

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

        return Api.cuDevicePrimaryCtxRelease_v2(CuDevice) == 0;
    }
}
