using System.Diagnostics;
using System.Runtime.InteropServices;
using Sharpmax.Interop;

namespace Sharpmax.Bench;

/// <summary>
/// What this CPU can do, measured at the start of the run on the same machine and load as the rows that are judged
/// against it: OpenBLAS's <c>cblas_sgemm</c> on a large square product (the arithmetic ceiling, GFLOP/s) and a large
/// copy split over every core (the memory ceiling, GB/s counting the bytes read plus the bytes written, as the rows'
/// GB/s do). Best of a few tries, so a moment of load on the shared machine lowers a ceiling less than a row.
/// </summary>
internal sealed record MachineCeilings(double? SgemmGflops, int SgemmSize, double CopyGigabytesPerSecond, long CopyBytes, string? SgemmUnavailable)
{
    /// <summary>The ceilings of this run, once measured (null before <see cref="Measure"/>).</summary>
    public static MachineCeilings? Current { get; private set; }

    /// <summary>Measures both ceilings: 2048³ and 256 MiB (1024³ and 64 MiB in quick mode).</summary>
    public static MachineCeilings Measure(bool quick)
    {
        int size = quick ? 1024 : 2048;
        long copyBytes = (quick ? 64L : 256L) << 20;
        int tries = quick ? 2 : 5;
        double? sgemm = MeasureSgemm(size, tries, out string? unavailable);
        double copy = MeasureCopy(copyBytes, tries);
        Current = new MachineCeilings(sgemm, size, copy, copyBytes, unavailable);
        return Current;
    }

    /// <summary>One line for the summary's header.</summary>
    public string Description =>
        (SgemmGflops is { } g ? FormattableString.Invariant($"OpenBLAS cblas_sgemm {SgemmSize}³: {g:F1} GFLOP/s") : $"sgemm: not measured ({SgemmUnavailable})")
        + FormattableString.Invariant($"; copy of {CopyBytes >> 20} MiB over {Environment.ProcessorCount} threads: {CopyGigabytesPerSecond:F1} GB/s (read + write)");

    private static unsafe double? MeasureSgemm(int size, int tries, out string? unavailable)
    {
        var blas = OpenBlas.TryLoad(out string failure);
        unavailable = blas is null ? failure : null;
        if (blas is null)
            return null;
        var a = new float[size * size];
        var b = new float[size * size];
        var c = new float[size * size];
        var random = new Random(11);
        for (int i = 0; i < a.Length; i++)
        {
            a[i] = (float)random.NextDouble();
            b[i] = (float)random.NextDouble();
        }
        double best = double.MaxValue;
        fixed (float* pa = a, pb = b, pc = c)
        {
            for (int t = 0; t <= tries; t++)   // the first call warms up OpenBLAS's threads and buffers
            {
                long start = Stopwatch.GetTimestamp();
                blas.cblas_sgemm(OpenBlas.RowMajor, OpenBlas.NoTrans, OpenBlas.NoTrans, size, size, size, 1f, pa, size, pb, size, 0f, pc, size);
                double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
                if (t > 0)
                    best = Math.Min(best, seconds);
            }
        }
        return 2.0 * size * size * size / best / 1e9;
    }

    private static unsafe double MeasureCopy(long bytes, int tries)
    {
        int threads = Environment.ProcessorCount;
        void* source = NativeMemory.AlignedAlloc((nuint)bytes, 64);
        void* target = NativeMemory.AlignedAlloc((nuint)bytes, 64);
        try
        {
            NativeMemory.Fill(source, (nuint)bytes, 1);   // touch every page, so the timed copies fault nothing in
            NativeMemory.Fill(target, (nuint)bytes, 2);
            long chunk = bytes / threads;
            double best = double.MaxValue;
            for (int t = 0; t <= tries; t++)
            {
                long start = Stopwatch.GetTimestamp();
                Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, i =>
                {
                    long offset = i * chunk;
                    long length = i == threads - 1 ? bytes - offset : chunk;
                    Buffer.MemoryCopy((byte*)source + offset, (byte*)target + offset, length, length);
                });
                double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
                if (t > 0)
                    best = Math.Min(best, seconds);
            }
            return 2.0 * bytes / best / 1e9;
        }
        finally
        {
            NativeMemory.AlignedFree(source);
            NativeMemory.AlignedFree(target);
        }
    }
}
