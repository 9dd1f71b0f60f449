using System.Runtime.InteropServices;
using System.Text;

namespace Sharpmax.GpuCheck;

/// <summary>
/// A minimal driver-API binding of its own, for what Sharpmax's public API does not expose: device attributes and
/// cuFuncGetAttribute on each kernel as the driver JIT compiled it. Binds libcuda.so.1 (plain names) or the CPU
/// device's libsharpmax_host.so (prefix <c>smhost_</c>); a missing export is reported, not thrown.
/// </summary>
internal sealed unsafe class DriverProbe
{
    private readonly nint _library;
    private readonly string _prefix;
    private readonly delegate* unmanaged<nint*, nint, byte*, int> _getFunction;
    private readonly delegate* unmanaged<nint*, void*, uint, int*, void**, int> _loadData;
    private readonly delegate* unmanaged<int*, int, int, int> _deviceAttribute;
    private readonly delegate* unmanaged<int*, int, nint, int> _funcAttribute;

    private DriverProbe(nint library, string prefix, string libraryName)
    {
        _library = library;
        _prefix = prefix;
        LibraryName = libraryName;
        var init = (delegate* unmanaged<uint, int>)Require("cuInit");
        var retain = (delegate* unmanaged<nint*, int, int>)Require("cuDevicePrimaryCtxRetain");
        var setCurrent = (delegate* unmanaged<nint, int>)Require("cuCtxSetCurrent");
        _loadData = (delegate* unmanaged<nint*, void*, uint, int*, void**, int>)Require("cuModuleLoadDataEx");
        _getFunction = (delegate* unmanaged<nint*, nint, byte*, int>)Require("cuModuleGetFunction");
        _deviceAttribute = (delegate* unmanaged<int*, int, int, int>)Require("cuDeviceGetAttribute");
        _funcAttribute = (delegate* unmanaged<int*, int, nint, int>)Optional("cuFuncGetAttribute");
        Check(init(0), "cuInit");
        nint context;
        Check(retain(&context, 0), "cuDevicePrimaryCtxRetain");
        Check(setCurrent(context), "cuCtxSetCurrent");
        var version = (delegate* unmanaged<int*, int>)Optional("cuDriverGetVersion");
        int driverVersion = 0;
        if (version != null)
            Check(version(&driverVersion), "cuDriverGetVersion");
        DriverVersion = driverVersion;
    }

    /// <summary>The library the functions come from.</summary>
    public string LibraryName { get; }

    /// <summary>cuDriverGetVersion (for example 13000 for CUDA 13.0).</summary>
    public int DriverVersion { get; }

    /// <summary>False where the library has no cuFuncGetAttribute (the CPU runtime before it gained one).</summary>
    public bool HasFunctionAttributes => _funcAttribute != null;

    /// <summary>Binds the library of a device kind (the same search Sharpmax does: beside the app, then the system).</summary>
    public static DriverProbe Open(DeviceKind kind)
    {
        bool cuda = kind == DeviceKind.Cuda;
        string name = cuda ? "libcuda.so.1" : "libsharpmax_host.so";
        string beside = Path.Combine(AppContext.BaseDirectory, name);
        string? hostOverride = Environment.GetEnvironmentVariable("SHARPMAX_HOST_LIBRARY");
        string path = !cuda && !string.IsNullOrEmpty(hostOverride) ? hostOverride : File.Exists(beside) ? beside : name;
        return new DriverProbe(NativeLibrary.Load(path), cuda ? "" : "smhost_", path);
    }

    /// <summary>cuDeviceGetAttribute on device 0, or null where the device does not report it (the CPU device
    /// answers only the attributes Sharpmax itself asks for).</summary>
    public int? DeviceAttribute(int attribute)
    {
        int value;
        return _deviceAttribute(&value, attribute, 0) == 0 ? value : null;
    }

    /// <summary>Loads a module image (PTX text; NUL-terminated here).</summary>
    public nint LoadModule(string ptx)
    {
        var bytes = Encoding.UTF8.GetBytes(ptx + "\0");
        nint module;
        fixed (byte* text = bytes)
            Check(_loadData(&module, text, 0, null, null), "cuModuleLoadDataEx");
        return module;
    }

    /// <summary>cuModuleGetFunction.</summary>
    public nint Function(nint module, string name)
    {
        var utf8 = Encoding.UTF8.GetBytes(name + "\0");
        nint function;
        fixed (byte* text = utf8)
            Check(_getFunction(&function, module, text), $"cuModuleGetFunction({name})");
        return function;
    }

    /// <summary>cuFuncGetAttribute (CU_FUNC_ATTRIBUTE_*: 0 max threads, 1 static shared bytes, 3 local bytes, 4 registers).</summary>
    public int FunctionAttribute(nint function, int attribute)
    {
        if (_funcAttribute == null)
            throw new NotSupportedException($"{LibraryName} has no {_prefix}cuFuncGetAttribute");
        int value;
        Check(_funcAttribute(&value, attribute, function), $"cuFuncGetAttribute({attribute})");
        return value;
    }

    private nint Require(string name) =>
        NativeLibrary.TryGetExport(_library, _prefix + name, out var address) ? address
            : throw new EntryPointNotFoundException($"{LibraryName} has no export {_prefix}{name}");

    private nint Optional(string name) => NativeLibrary.TryGetExport(_library, _prefix + name, out var address) ? address : 0;

    private void Check(int result, string call)
    {
        if (result != 0)
            throw new InvalidOperationException($"{_prefix}{call} failed with CUresult {result} ({LibraryName})");
    }
}
