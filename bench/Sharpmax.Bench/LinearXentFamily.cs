using Sharpmax.Bench.LinearXent;
using Sharpmax.Interop;

namespace Sharpmax.Bench;

/// <summary>The harness's "lxent" family: <see cref="LinearXentBench"/> on every available device, at issue 11's
/// shape (N = 4096, K = 1024, C = 32768; on a GPU also a language model's head, N = 8192, K = 4096, C = 131072)
/// or with --quick at N = 256, K = 128, C = 4096.</summary>
internal static class LinearXentFamily
{
    /// <summary>Runs the family; returns its results and the failures that <see cref="Validation"/> did not record
    /// already (a launch or allocation that failed).</summary>
    public static (List<LinearXentResult> Results, List<string> Failures) Run(BenchOptions options)
    {
        var results = new List<LinearXentResult>();
        var failures = new List<string>();
        foreach (var kind in BenchDevices.Available)
        foreach (var shape in LinearXentShape.Measured(options.Quick, gpu: kind == DeviceKind.Cuda))
        {
            try
            {
                results.Add(LinearXentBench.Run(BenchDevices.Get(kind), shape, options.Quick, Console.Out));
            }
            catch (ValidationException e)
            {
                Console.WriteLine($"lxent on {kind}: {e.Message}");   // in Validation.Failures already
            }
            catch (Exception e) when (e is CudaException or ArgumentException or InvalidOperationException)
            {
                failures.Add($"lxent on {kind} {shape}: {e.GetType().Name}: {e.Message}");
            }
        }
        return (results, failures);
    }
}
