using System.Globalization;
using System.Text;

namespace Sharpmax.Bench.LinearXent;

/// <summary>summary.md's linear_xent section and its two goal lines (issue 11).</summary>
internal static class LinearXentReport
{
    private const double MemoryGoal = 0.05, TimeGoal = 1.3;

    public static void Section(StringBuilder md, IReadOnlyList<LinearXentResult>? results)
    {
        if (results is null || results.Count == 0)
            return;
        var inv = CultureInfo.InvariantCulture;
        md.AppendLine("## Fused linear + cross-entropy (linear_xent) vs the unfused chain: forward+backward, mean loss, W K×C").AppendLine();
        md.AppendLine("Unfused: `Linear.Forward` into N×C logits, `FusedCrossEntropy.ForwardBackward` into an N×C gradient, dH = G·Wᵀ, dW = Hᵀ·G, db. "
            + "Time: median of synchronized wall-clock calls, the paths alternating. Peak: the device's live-bytes high-water mark from a fresh op's "
            + "first call, minus the bytes live before it (the inputs H, W, b, labels and the outputs dH, dW, db), so each path counts its own "
            + "workspace: the unfused chain's two N×C buffers and cross-entropy workspace, linear_xent's 3N row statistics and packing workspace.").AppendLine();
        md.AppendLine("| Device | shape | kernels | unfused (s) | linear_xent (s) | time linear_xent/unfused | unfused peak (MiB) | linear_xent peak (MiB) | memory linear_xent/unfused | deterministic | agreement |");
        md.AppendLine("|---|---|---|--:|--:|--:|--:|--:|--:|---|---|");
        foreach (var r in results)
            md.AppendLine(inv,
                $"| {r.Device} | {r.Shape} | `linear_xent_*{r.FusedKernels}` | {r.UnfusedSeconds:F4} | {r.FusedSeconds:F4} | {r.TimeRatio:F3} | {LinearXentBench.Mib(r.UnfusedPeakBytes):F1} | {LinearXentBench.Mib(r.FusedPeakBytes):F2} | {r.MemoryRatio * 100:F2} % | {(r.Deterministic ? "yes" : "**no**")} ({r.FusedRuns} runs bit for bit) | {r.Agreement} |");
        md.AppendLine().AppendLine(inv, $"Median of {results[0].TimedRuns} timed run(s) of each path; linear_xent does 4 products of N·K·C on the CPU device (the logits and dH's Σ e·Wᵀ in its forward, then the logits again beside dW's product) and 5 on a GPU (a dH pass of its own recomputes the logits) where the unfused chain does 3: at equal rates its time would be 4/3 = 1.33× (5/3 = 1.67×) the chain's products'. Where the time goes, one more run of each, stage by stage (left out when the timing budget cut the timed runs to one):").AppendLine();
        md.AppendLine("| Device | stage | products | seconds | share of its path | GFLOP/s of its products |");
        md.AppendLine("|---|---|--:|--:|--:|--:|");
        foreach (var r in results)
        {
            double unfused = r.Stages.Where(s => s.Name.StartsWith("unfused", StringComparison.Ordinal)).Sum(s => s.Seconds);
            double fused = r.Stages.Sum(s => s.Seconds) - unfused;
            foreach (var s in r.Stages)
            {
                double share = s.Seconds / (s.Name.StartsWith("unfused", StringComparison.Ordinal) ? unfused : fused);
                md.AppendLine(inv, $"| {r.Device} | {s.Name} | {s.Products} | {s.Seconds:F4} | {share * 100:F1} % | {(s.Gflops(r.Shape) is { } g ? g.ToString("F1", inv) : "-")} |");
            }
        }
        md.AppendLine();
    }

    /// <summary>Issue 11's goals, judged on the CPU device at its shape; another shape reports and does not judge.</summary>
    public static void Goals(StringBuilder md, IReadOnlyList<LinearXentResult>? results)
    {
        var inv = CultureInfo.InvariantCulture;
        var cpu = results?.FirstOrDefault(r => r.Device == DeviceKind.Cpu);
        if (cpu is null)
        {
            md.AppendLine("- linear_xent peak memory ≤ 5 % of the unfused chain's, and time ≤ 1.3× it (CPU device, N=4096, K=1024, C=32768): not measured in this run.");
            return;
        }
        bool judged = cpu.Shape == LinearXentShape.Goal;
        string Verdict(bool met) => judged ? (met ? "**met**" : "**missed**") : $"not judged: this run measured {cpu.Shape}, the goal is at {LinearXentShape.Goal}";
        md.AppendLine(inv, $"- linear_xent forward+backward peak memory ≤ 5 % of the unfused chain's on the CPU device at {LinearXentShape.Goal}: measured {cpu.MemoryRatio * 100:F2} % ({LinearXentBench.Mib(cpu.FusedPeakBytes):F2} MiB vs {LinearXentBench.Mib(cpu.UnfusedPeakBytes):F1} MiB): {Verdict(cpu.MemoryRatio <= MemoryGoal)}.");
        md.AppendLine(inv, $"- linear_xent forward+backward time ≤ 1.3× the unfused chain's on the CPU device at {LinearXentShape.Goal}: measured {cpu.TimeRatio:F2}× ({cpu.FusedSeconds:F3} s vs {cpu.UnfusedSeconds:F3} s): {Verdict(cpu.TimeRatio <= TimeGoal)}.");
        md.AppendLine(inv, $"- linear_xent bitwise identical run to run on the CPU device: {(cpu.Deterministic ? "**met**" : "**missed**")} ({cpu.FusedRuns} runs at {cpu.Shape}).");
    }
}
