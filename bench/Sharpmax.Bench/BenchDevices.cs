using System.Globalization;
using Sharpmax.Interop;

namespace Sharpmax.Bench;

/// <summary>
/// The devices the benchmarks run on, opened once per process: the CPU device always, CUDA when a driver and a
/// device are present (otherwise the reason is printed once and the CUDA parameter is left out).
/// </summary>
internal static class BenchDevices
{
    private static readonly Dictionary<DeviceKind, Device> Open = [];
    private static readonly Lazy<IReadOnlyList<DeviceKind>> Kinds = new(Probe);
    private static string _cudaSkipReason = "";

    /// <summary>Cpu, and Cuda when it opens.</summary>
    public static IReadOnlyList<DeviceKind> Available => Kinds.Value;

    /// <summary>Why CUDA is not benchmarked ("" when it is).</summary>
    public static string CudaSkipReason
    {
        get
        {
            _ = Kinds.Value;
            return _cudaSkipReason;
        }
    }

    /// <summary>The shared device of this kind.</summary>
    public static Device Get(DeviceKind kind)
    {
        lock (Open)
        {
            if (!Open.TryGetValue(kind, out var device))
            {
                device = Device.Open(kind);
                Open.Add(kind, device);
            }
            return device;
        }
    }

    /// <summary>Peak memory bandwidth in GB/s from the device attributes (memory clock × 2 for DDR × bus width),
    /// or null where the device does not report it (the CPU device reports 0).</summary>
    public static double? PeakGigabytesPerSecond(DeviceKind kind)
    {
        var device = Get(kind);
        double clockKiloHertz = device.GetAttribute(DeviceAttribute.MemoryClockRate);
        double busBits = device.GetAttribute(DeviceAttribute.GlobalMemoryBusWidth);
        if (clockKiloHertz <= 0 || busBits <= 0)
            return null;
        return 2 * clockKiloHertz * 1e3 * (busBits / 8) / 1e9;
    }

    /// <summary>Why the vendor BLAS of this device cannot be loaded, or null when it can.</summary>
    public static string? BlasUnavailable(DeviceKind kind)
    {
        string failure;
        bool loaded = kind == DeviceKind.Cpu ? OpenBlas.TryLoad(out failure) is not null : CublasApi.TryLoad(out failure) is not null;
        return loaded ? null : failure;
    }

    /// <summary>The vendor BLAS of this device by name.</summary>
    public static string BlasName(DeviceKind kind)
    {
        if (kind == DeviceKind.Cpu)
            return OpenBlas.TryLoad(out _) is { } blas ? $"OpenBLAS ({blas.LibraryName})" : "OpenBLAS";
        return CublasApi.TryLoad(out _) is { } cublas ? $"cuBLAS ({cublas.LibraryName})" : "cuBLAS";
    }

    public static void DisposeAll()
    {
        lock (Open)
        {
            foreach (var device in Open.Values)
                device.Dispose();
            Open.Clear();
        }
    }

    private static List<DeviceKind> Probe()
    {
        var kinds = new List<DeviceKind> { DeviceKind.Cpu };
        try
        {
            Get(DeviceKind.Cuda);
            kinds.Add(DeviceKind.Cuda);
        }
        catch (DeviceUnavailableException e)
        {
            _cudaSkipReason = e.Message;
        }
        catch (CudaException e)
        {
            _cudaSkipReason = string.Create(CultureInfo.InvariantCulture, $"the CUDA device failed to open: {e.Message}");
        }
        if (_cudaSkipReason.Length > 0)
            Console.WriteLine($"sharpmax-bench: CUDA benchmarks skipped: {_cudaSkipReason}");
        return kinds;
    }
}
