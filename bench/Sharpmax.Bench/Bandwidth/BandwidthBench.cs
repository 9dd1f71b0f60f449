using Sharpmax.Ops;

namespace Sharpmax.Bench.Bandwidth;

/// <summary>What the bench needs to know about the device beyond the public API.</summary>
/// <param name="L2Bytes">The device's L2 cache size (0 when unknown: the flush buffer is then 256 MiB).</param>
/// <param name="PeakGigabytesPerSecond">Peak DRAM bandwidth, or null where the device reports none.</param>
/// <param name="Quick">Fewer shapes and repeats (CI and the GPU check: well under a minute).</param>
public sealed record BandwidthSetup(long L2Bytes, double? PeakGigabytesPerSecond, bool Quick);

/// <summary>
/// Bandwidth of the softmax kernels measured as a GPU needs it: each repeat first writes a flush buffer of at
/// least twice the L2 (so no input is left in cache), then records an event, launches the operation back to back
/// <c>launches</c> times with no readback or synchronization between, records a second event, and divides.
/// The best repeat counts. Every operation is validated against float64 on sampled rows before it is timed.
/// A device-to-device copy of the same bytes is the achievable-bandwidth baseline. On the CPU device the events
/// measure wall time (every launch there is synchronous).
/// </summary>
public static class BandwidthBench
{
    private const double Rtol = 1e-4;

    /// <summary>Runs every shape of the device's kind; returns the results (validation failures throw).</summary>
    /// <param name="device">The device to time.</param>
    /// <param name="setup">Facts about the device and the run length.</param>
    /// <param name="log">Progress lines.</param>
    /// <exception cref="InvalidOperationException">An operation disagreed with the float64 reference.</exception>
    public static IReadOnlyList<BandwidthResult> Run(Device device, BandwidthSetup setup, TextWriter log)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(setup);
        ArgumentNullException.ThrowIfNull(log);
        bool gpu = device.Kind == DeviceKind.Cuda;
        int repeats = setup.Quick ? 3 : 10;
        int launches = gpu ? (setup.Quick ? 10 : 50) : (setup.Quick ? 1 : 5);
        long flushBytes = Math.Max(2 * setup.L2Bytes, BandwidthShapes.GpuBytes);
        var results = new List<BandwidthResult>();

        using var flush = device.Allocate<float>(gpu ? flushBytes / sizeof(float) : 0);
        using var softmax = new Softmax(device);
        foreach (var shape in BandwidthShapes.For(device.Kind, setup.Quick))
        {
            var input = Uniform(seed: shape.C, (long)shape.N * shape.C, scale: 8);
            using var x = device.Upload<float>(input);
            using var y = device.Allocate<float>(input.Length);
            double bytes = 2.0 * shape.MatrixBytes;
            var timer = new Timer(device, flush, repeats, launches);

            string kernel = softmax.KernelFor(shape.N, shape.C);
            Validate($"softmax fused ({kernel}) {shape}", () => softmax.Forward(x, y, shape.N, shape.C), y, input, shape);
            results.Add(new($"softmax fused ({kernel})", shape, bytes, timer.Time(() => softmax.Forward(x, y, shape.N, shape.C)), setup.PeakGigabytesPerSecond));
            Validate($"softmax naive chain {shape}", () => softmax.ForwardNaive(x, y, shape.N, shape.C), y, input, shape);
            results.Add(new("softmax naive chain", shape, bytes, timer.Time(() => softmax.ForwardNaive(x, y, shape.N, shape.C)), setup.PeakGigabytesPerSecond));
            results.Add(new("copy (cuMemcpyDtoD)", shape, bytes, timer.Time(() => x.CopyTo(y)), setup.PeakGigabytesPerSecond));
            log.WriteLine($"bandwidth: {shape} done ({results[^3].GigabytesPerSecond:F1}, {results[^2].GigabytesPerSecond:F1}, {results[^1].GigabytesPerSecond:F1} GB/s)");
        }
        return results;
    }

    private sealed class Timer(Device device, DeviceBuffer<float> flush, int repeats, int launches)
    {
        public double Time(Action run)
        {
            using var start = device.CreateEvent();
            using var end = device.CreateEvent();
            run();  // warm-up: module JIT, first-touch
            double best = double.PositiveInfinity;
            for (int r = 0; r < repeats; r++)
            {
                flush.Fill(0f);
                start.Record();
                for (int i = 0; i < launches; i++)
                    run();
                end.Record();
                best = Math.Min(best, DeviceEvent.ElapsedMilliseconds(start, end) / launches);
            }
            return best;
        }
    }

    private static void Validate(string what, Action run, DeviceBuffer<float> y, float[] input, BandwidthShape shape)
    {
        y.Fill(float.NaN);
        run();
        int[] rows = [0, shape.N / 2, shape.N - 1];
        var row = new float[shape.C];
        foreach (int r in rows)
        {
            y.CopyTo(row, (long)r * shape.C);
            var expected = SoftmaxRow(input.AsSpan(r * shape.C, shape.C));
            for (int j = 0; j < shape.C; j++)
            {
                if (!(Math.Abs(row[j] - expected[j]) <= Rtol * Math.Abs(expected[j]) + 1e-30))
                    throw new InvalidOperationException($"{what}: y[{r},{j}] = {row[j]:R}, float64 softmax {expected[j]:R} (rtol {Rtol}); not timed.");
            }
        }
    }

    private static double[] SoftmaxRow(ReadOnlySpan<float> x)
    {
        double max = double.NegativeInfinity;
        foreach (float v in x)
            max = Math.Max(max, v);
        var e = new double[x.Length];
        double sum = 0;
        for (int j = 0; j < x.Length; j++)
            sum += e[j] = Math.Exp(x[j] - max);
        for (int j = 0; j < x.Length; j++)
            e[j] /= sum;
        return e;
    }

    private static float[] Uniform(int seed, long count, float scale)
    {
        var random = new Random(seed);
        var values = new float[count];
        for (long i = 0; i < count; i++)
            values[i] = (random.NextSingle() * 2 - 1) * scale;
        return values;
    }
}
