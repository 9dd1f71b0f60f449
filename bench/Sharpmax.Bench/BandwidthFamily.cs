using Sharpmax.Bench.Bandwidth;
using Sharpmax.Interop;

namespace Sharpmax.Bench;

/// <summary>The harness's "bandwidth" family: <see cref="BandwidthBench"/> on every available device (GPU-sized
/// shapes on CUDA, the 16 MiB streaming shapes on the CPU), written to <c>bandwidth.md</c>.</summary>
internal static class BandwidthFamily
{
    /// <summary>CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE (cuda.h).</summary>
    private const int L2CacheSizeAttribute = 38;

    /// <summary>Runs the family; returns its failures (empty when everything validated and ran).</summary>
    public static List<string> Run(BenchOptions options)
    {
        var failures = new List<string>();
        var sections = new List<string>();
        foreach (var kind in BenchDevices.Available)
        {
            var device = BenchDevices.Get(kind);
            var setup = new BandwidthSetup(L2Bytes(device), BenchDevices.PeakGigabytesPerSecond(kind), options.Quick);
            try
            {
                var results = BandwidthBench.Run(device, setup, Console.Out);
                sections.Add($"## {kind}: {device.Name}\n\n{BandwidthResult.Table(results)}");
            }
            catch (Exception e) when (e is InvalidOperationException or CudaException)
            {
                failures.Add($"bandwidth on {kind}: {e.Message}");
            }
        }
        Directory.CreateDirectory(options.OutputDirectory);
        File.WriteAllText(Path.Combine(options.OutputDirectory, "bandwidth.md"),
            "# Bandwidth (event-timed back-to-back launches, L2 flushed between repeats)\n\n" + string.Join("\n", sections));
        return failures;
    }

    /// <summary>The L2 size, or 0 where the device does not report one (the CPU device).</summary>
    private static long L2Bytes(Device device)
    {
        try
        {
            return device.GetAttribute((DeviceAttribute)L2CacheSizeAttribute);
        }
        catch (CudaException)
        {
            return 0;
        }
    }
}
