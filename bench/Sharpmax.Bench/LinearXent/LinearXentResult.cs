namespace Sharpmax.Bench.LinearXent;

/// <summary>A bench shape: N rows of H (N×K), W K×C, C classes.</summary>
public sealed record LinearXentShape(int N, int K, int C)
{
    /// <summary>Issue 11's shape: the unfused chain holds two 512 MiB N×C buffers there.</summary>
    public static readonly LinearXentShape Goal = new(4096, 1024, 32768);

    /// <summary>The CI shape: a few milliseconds a call, small enough for a float64 reference.</summary>
    public static readonly LinearXentShape Quick = new(256, 128, 4096);

    /// <summary>A language model's head (Llama-3-class hidden size, a 128K vocabulary): on a GPU only, beside
    /// <see cref="Goal"/> (the unfused chain's two N×C buffers are 4 GiB each; the CPU device would take hours).</summary>
    public static readonly LinearXentShape LanguageModelHead = new(8192, 4096, 131072);

    public static LinearXentShape For(bool quick) => quick ? Quick : Goal;

    /// <summary>The shapes a full run measures on a device of this kind.</summary>
    public static IReadOnlyList<LinearXentShape> Measured(bool quick, bool gpu) =>
        quick ? [Quick] : gpu ? [Goal, LanguageModelHead] : [Goal];

    /// <summary>Bytes of one float N×C matrix (the unfused chain's logits, and again its gradient).</summary>
    public long MatrixBytes => (long)N * C * sizeof(float);

    public override string ToString() => FormattableString.Invariant($"N={N}, K={K}, C={C}");
}

/// <summary>What <see cref="LinearXentBench"/> measured on one device.</summary>
/// <param name="Device">The device kind.</param>
/// <param name="Shape">The shape.</param>
/// <param name="FusedKernels">The linear_xent variant that ran (_simd on the CPU device, _block on a GPU).</param>
/// <param name="UnfusedSeconds">Median wall time of one unfused forward+backward (synchronized).</param>
/// <param name="FusedSeconds">Median wall time of one linear_xent forward+backward (synchronized).</param>
/// <param name="TimedRuns">Timed runs of each path (the median is over them; the first, measured, run is not among them).</param>
/// <param name="UnfusedPeakBytes">The unfused chain's device high-water mark beyond its inputs and outputs.</param>
/// <param name="FusedPeakBytes">linear_xent's high-water mark beyond the same inputs and outputs.</param>
/// <param name="FusedRuns">linear_xent runs compared bit for bit (the measured run and every timed run).</param>
/// <param name="Deterministic">Every one of them gave the same bits of loss, dH, dW and db.</param>
/// <param name="Agreement">How far the two paths are apart (and from float64 at the quick shape), in words.</param>
/// <param name="Stages">One more run of each path, stage by stage: where the time goes.</param>
public sealed record LinearXentResult(DeviceKind Device, LinearXentShape Shape, string FusedKernels,
    double UnfusedSeconds, double FusedSeconds, int TimedRuns, long UnfusedPeakBytes, long FusedPeakBytes,
    int FusedRuns, bool Deterministic, string Agreement, IReadOnlyList<LinearXentStage> Stages)
{
    public double TimeRatio => FusedSeconds / UnfusedSeconds;

    public double MemoryRatio => (double)FusedPeakBytes / UnfusedPeakBytes;
}

/// <summary>One stage of a path, timed once (synchronized): its name, how many N·K·C products it does, seconds.</summary>
public sealed record LinearXentStage(string Name, int Products, double Seconds)
{
    public static LinearXentStage Time(string name, int products, Device device, Action run)
    {
        long start = System.Diagnostics.Stopwatch.GetTimestamp();
        run();
        device.Synchronize();
        return new LinearXentStage(name, products, System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalSeconds);
    }

    /// <summary>GFLOP/s of its products (2·N·K·C flops each), or null for a stage without one.</summary>
    public double? Gflops(LinearXentShape shape) => Products == 0 ? null : Products * 2.0 * shape.N * shape.K * shape.C / Seconds / 1e9;
}
