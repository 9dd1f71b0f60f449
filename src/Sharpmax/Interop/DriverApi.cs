using System.Runtime.InteropServices;

namespace Sharpmax.Interop;

/// <summary>
/// The slice of the CUDA driver API that Sharpmax calls, as a table of function pointers. It is resolved either
/// from the NVIDIA driver (plain names) or from libsharpmax_host (the same functions with the prefix
/// <c>smhost_</c>, see runtime/include/sharpmax_host.h), so one C# code path drives both devices.
/// Signatures follow cuda.h: CUresult is int, CUdevice int, CUdeviceptr ulong, size_t nuint, handles nint.
/// </summary>
internal sealed unsafe class DriverApi
{
    public const string HostLibraryPrefix = "smhost_";

    /// <summary>SMHOST_ALL_KERNELS_IMAGE: a module image that binds every kernel compiled into the host library.</summary>
    public const string AllHostKernelsImage = "// sharpmax: bind all host kernels\n";

    // CUfunction_attribute values (cuda.h).
    public const int FuncAttributeMaxThreadsPerBlock = 0;
    public const int FuncAttributeSharedSizeBytes = 1;
    public const int FuncAttributeNumRegs = 4;
    public const int FuncAttributeMaxDynamicSharedSizeBytes = 8;
    public const int JitErrorLogBuffer = 5;
    public const int JitErrorLogBufferSizeBytes = 6;

    public required string LibraryName { get; init; }
    public required bool IsHostLibrary { get; init; }

    public delegate* unmanaged<uint, int> cuInit;
    public delegate* unmanaged<int*, int> cuDriverGetVersion;
    public delegate* unmanaged<int*, int> cuDeviceGetCount;
    public delegate* unmanaged<int*, int, int> cuDeviceGet;
    public delegate* unmanaged<byte*, int, int, int> cuDeviceGetName;
    public delegate* unmanaged<int*, int, int, int> cuDeviceGetAttribute;
    public delegate* unmanaged<nuint*, int, int> cuDeviceTotalMem_v2;
    public delegate* unmanaged<nint*, int, int> cuDevicePrimaryCtxRetain;
    public delegate* unmanaged<int, int> cuDevicePrimaryCtxRelease_v2;
    public delegate* unmanaged<nint, int> cuCtxSetCurrent;
    public delegate* unmanaged<nint*, int> cuCtxGetCurrent;
    public delegate* unmanaged<int> cuCtxSynchronize;
    public delegate* unmanaged<nuint*, nuint*, int> cuMemGetInfo_v2;

    public delegate* unmanaged<nint*, void*, uint, int*, void**, int> cuModuleLoadDataEx;
    public delegate* unmanaged<nint, int> cuModuleUnload;
    public delegate* unmanaged<nint*, nint, byte*, int> cuModuleGetFunction;
    public delegate* unmanaged<nint, int, int, int> cuFuncSetAttribute;
    public delegate* unmanaged<int*, int, nint, int> cuFuncGetAttribute;

    public delegate* unmanaged<ulong*, nuint, int> cuMemAlloc_v2;
    public delegate* unmanaged<ulong, int> cuMemFree_v2;
    public delegate* unmanaged<ulong, void*, nuint, int> cuMemcpyHtoD_v2;
    public delegate* unmanaged<void*, ulong, nuint, int> cuMemcpyDtoH_v2;
    public delegate* unmanaged<ulong, ulong, nuint, int> cuMemcpyDtoD_v2;
    public delegate* unmanaged<ulong, byte, nuint, int> cuMemsetD8_v2;
    public delegate* unmanaged<ulong, uint, nuint, int> cuMemsetD32_v2;
    public delegate* unmanaged<void**, nuint, int> cuMemAllocHost_v2;
    public delegate* unmanaged<void*, int> cuMemFreeHost;

    public delegate* unmanaged<nint, uint, uint, uint, uint, uint, uint, uint, nint, void**, void**, int> cuLaunchKernel;

    public delegate* unmanaged<nint*, uint, int> cuEventCreate;
    public delegate* unmanaged<nint, int> cuEventDestroy_v2;
    public delegate* unmanaged<nint, nint, int> cuEventRecord;
    public delegate* unmanaged<nint, int> cuEventSynchronize;
    public delegate* unmanaged<float*, nint, nint, int> cuEventElapsedTime;

    public delegate* unmanaged<int, byte**, int> cuGetErrorName;
    public delegate* unmanaged<int, byte**, int> cuGetErrorString;

    // Extras of the host library only (null for the NVIDIA driver).
    public delegate* unmanaged<nuint*, int> smhost_liveBytes;
    public delegate* unmanaged<ulong, int> smhost_setScheduleSeed;
    public delegate* unmanaged<int, int> smhost_setWorkerCount;
    public delegate* unmanaged<byte*> smhost_lastErrorDetail;
    public delegate* unmanaged<int, int> smhost_setCheckedMode;
    public delegate* unmanaged<int> smhost_checkedMode;

    /// <summary>Resolves the table from an opened library: plain names from the NVIDIA driver, names with
    /// <see cref="HostLibraryPrefix"/> (and the extras) from libsharpmax_host.</summary>
    public static DriverApi Resolve(nint library, string libraryName, bool isHostLibrary)
    {
        var prefix = isHostLibrary ? HostLibraryPrefix : "";
        nint Get(string name) => NativeLibraries.Export(library, libraryName, prefix + name);

        var api = new DriverApi
        {
            LibraryName = libraryName,
            IsHostLibrary = isHostLibrary,
            cuInit = (delegate* unmanaged<uint, int>)Get("cuInit"),
            cuDriverGetVersion = (delegate* unmanaged<int*, int>)Get("cuDriverGetVersion"),
            cuDeviceGetCount = (delegate* unmanaged<int*, int>)Get("cuDeviceGetCount"),
            cuDeviceGet = (delegate* unmanaged<int*, int, int>)Get("cuDeviceGet"),
            cuDeviceGetName = (delegate* unmanaged<byte*, int, int, int>)Get("cuDeviceGetName"),
            cuDeviceGetAttribute = (delegate* unmanaged<int*, int, int, int>)Get("cuDeviceGetAttribute"),
            cuDeviceTotalMem_v2 = (delegate* unmanaged<nuint*, int, int>)Get("cuDeviceTotalMem_v2"),
            cuDevicePrimaryCtxRetain = (delegate* unmanaged<nint*, int, int>)Get("cuDevicePrimaryCtxRetain"),
            cuDevicePrimaryCtxRelease_v2 = (delegate* unmanaged<int, int>)Get("cuDevicePrimaryCtxRelease_v2"),
            cuCtxSetCurrent = (delegate* unmanaged<nint, int>)Get("cuCtxSetCurrent"),
            cuCtxGetCurrent = (delegate* unmanaged<nint*, int>)Get("cuCtxGetCurrent"),
            cuCtxSynchronize = (delegate* unmanaged<int>)Get("cuCtxSynchronize"),
            cuMemGetInfo_v2 = (delegate* unmanaged<nuint*, nuint*, int>)Get("cuMemGetInfo_v2"),
            cuModuleLoadDataEx = (delegate* unmanaged<nint*, void*, uint, int*, void**, int>)Get("cuModuleLoadDataEx"),
            cuModuleUnload = (delegate* unmanaged<nint, int>)Get("cuModuleUnload"),
            cuModuleGetFunction = (delegate* unmanaged<nint*, nint, byte*, int>)Get("cuModuleGetFunction"),
            cuFuncSetAttribute = (delegate* unmanaged<nint, int, int, int>)Get("cuFuncSetAttribute"),
            cuFuncGetAttribute = (delegate* unmanaged<int*, int, nint, int>)Get("cuFuncGetAttribute"),
            cuMemAlloc_v2 = (delegate* unmanaged<ulong*, nuint, int>)Get("cuMemAlloc_v2"),
            cuMemFree_v2 = (delegate* unmanaged<ulong, int>)Get("cuMemFree_v2"),
            cuMemcpyHtoD_v2 = (delegate* unmanaged<ulong, void*, nuint, int>)Get("cuMemcpyHtoD_v2"),
            cuMemcpyDtoH_v2 = (delegate* unmanaged<void*, ulong, nuint, int>)Get("cuMemcpyDtoH_v2"),
            cuMemcpyDtoD_v2 = (delegate* unmanaged<ulong, ulong, nuint, int>)Get("cuMemcpyDtoD_v2"),
            cuMemsetD8_v2 = (delegate* unmanaged<ulong, byte, nuint, int>)Get("cuMemsetD8_v2"),
            cuMemsetD32_v2 = (delegate* unmanaged<ulong, uint, nuint, int>)Get("cuMemsetD32_v2"),
            cuMemAllocHost_v2 = (delegate* unmanaged<void**, nuint, int>)Get("cuMemAllocHost_v2"),
            cuMemFreeHost = (delegate* unmanaged<void*, int>)Get("cuMemFreeHost"),
            cuLaunchKernel = (delegate* unmanaged<nint, uint, uint, uint, uint, uint, uint, uint, nint, void**, void**, int>)Get("cuLaunchKernel"),
            cuEventCreate = (delegate* unmanaged<nint*, uint, int>)Get("cuEventCreate"),
            cuEventDestroy_v2 = (delegate* unmanaged<nint, int>)Get("cuEventDestroy_v2"),
            cuEventRecord = (delegate* unmanaged<nint, nint, int>)Get("cuEventRecord"),
            cuEventSynchronize = (delegate* unmanaged<nint, int>)Get("cuEventSynchronize"),
            cuEventElapsedTime = (delegate* unmanaged<float*, nint, nint, int>)Get("cuEventElapsedTime"),
            cuGetErrorName = (delegate* unmanaged<int, byte**, int>)Get("cuGetErrorName"),
            cuGetErrorString = (delegate* unmanaged<int, byte**, int>)Get("cuGetErrorString"),
        };

        if (isHostLibrary)
        {
            api.smhost_liveBytes = (delegate* unmanaged<nuint*, int>)NativeLibraries.Export(library, libraryName, "smhost_liveBytes");
            api.smhost_setScheduleSeed = (delegate* unmanaged<ulong, int>)NativeLibraries.Export(library, libraryName, "smhost_setScheduleSeed");
            api.smhost_setWorkerCount = (delegate* unmanaged<int, int>)NativeLibraries.Export(library, libraryName, "smhost_setWorkerCount");
            api.smhost_lastErrorDetail = (delegate* unmanaged<byte*>)NativeLibraries.Export(library, libraryName, "smhost_lastErrorDetail");
            api.smhost_setCheckedMode = (delegate* unmanaged<int, int>)NativeLibraries.Export(library, libraryName, "smhost_setCheckedMode");
            api.smhost_checkedMode = (delegate* unmanaged<int>)NativeLibraries.Export(library, libraryName, "smhost_checkedMode");
        }

        return api;
    }

    /// <summary>The library's name for a result code (CUDA_ERROR_…), or null when it does not know the code.</summary>
    public string? ErrorName(int result)
    {
        byte* text = null;
        return cuGetErrorName(result, &text) == 0 && text != null ? Marshal.PtrToStringUTF8((nint)text) : null;
    }

    /// <summary>The library's sentence for a result code, or null when it does not know the code.</summary>
    public string? ErrorString(int result)
    {
        byte* text = null;
        return cuGetErrorString(result, &text) == 0 && text != null ? Marshal.PtrToStringUTF8((nint)text) : null;
    }

    /// <summary>The host library's explanation of the last failed call on this thread; "" for the NVIDIA driver.</summary>
    public string LastErrorDetail()
    {
        if (smhost_lastErrorDetail == null)
            return "";
        var detail = smhost_lastErrorDetail();
        return detail == null ? "" : Marshal.PtrToStringUTF8((nint)detail) ?? "";
    }
}
