namespace Sharpmax.Interop;

/// <summary>The two places a <see cref="DriverApi"/> comes from, each opened at most once per process.</summary>
internal static class DriverLibraries
{
    private static readonly Lazy<(DriverApi? Api, string Failure)> Cuda = new(() => Open(CudaNames(), isHost: false));
    private static readonly Lazy<(DriverApi? Api, string Failure)> Host = new(() => Open(HostNames(), isHost: true));

    /// <summary>The NVIDIA driver's table, or null and why not.</summary>
    public static DriverApi? TryCuda(out string failure) => Take(Cuda.Value, out failure);

    /// <summary>libsharpmax_host's table, or null and why not.</summary>
    public static DriverApi? TryHost(out string failure) => Take(Host.Value, out failure);

    private static DriverApi? Take((DriverApi? Api, string Failure) entry, out string failure)
    {
        failure = entry.Failure;
        return entry.Api;
    }

    private static string[] CudaNames() => OperatingSystem.IsWindows() ? ["nvcuda.dll"] : ["libcuda.so.1"];

    /// <summary>Environment variable naming a host library to load instead of the bundled one (the
    /// sanitizer build runs the tests against an ASan-instrumented copy this way).</summary>
    public const string HostLibraryVariable = "SHARPMAX_HOST_LIBRARY";

    private static string[] HostNames()
    {
        var overridePath = Environment.GetEnvironmentVariable(HostLibraryVariable);
        if (!string.IsNullOrEmpty(overridePath))
            return [Path.GetFullPath(overridePath)];
        return OperatingSystem.IsWindows() ? ["sharpmax_host.dll"]
            : OperatingSystem.IsMacOS() ? ["libsharpmax_host.dylib"]
            : ["libsharpmax_host.so"];
    }

    private static (DriverApi?, string) Open(string[] names, bool isHost)
    {
        if (!NativeLibraries.TryOpen(names, out var handle, out var loadedName, out var failure))
            return (null, failure);
        try
        {
            return (DriverApi.Resolve(handle, loadedName, isHost), "");
        }
        catch (EntryPointNotFoundException e)
        {
            return (null, e.Message);
        }
    }
}
