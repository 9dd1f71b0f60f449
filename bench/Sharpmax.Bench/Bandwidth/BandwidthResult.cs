using System.Globalization;
using System.Text;

namespace Sharpmax.Bench.Bandwidth;

/// <summary>One timed case: mean milliseconds per launch (chain) over the repeats, and the bandwidth it means.</summary>
/// <param name="Operation">What ran: "softmax fused (kernel)", "softmax naive chain", "copy (cuMemcpyDtoD)".</param>
/// <param name="Shape">The row set.</param>
/// <param name="Bytes">The least traffic of one run (inputs read once, outputs written once).</param>
/// <param name="Milliseconds">Mean time of one run, from events around back-to-back runs, best repeat.</param>
/// <param name="PeakGigabytesPerSecond">The device's peak DRAM bandwidth, or null where it reports none.</param>
public sealed record BandwidthResult(string Operation, BandwidthShape Shape, double Bytes, double Milliseconds, double? PeakGigabytesPerSecond)
{
    /// <summary>Gigabytes (1e9 bytes) per second.</summary>
    public double GigabytesPerSecond => Bytes / (Milliseconds * 1e-3) / 1e9;

    /// <summary>Markdown table of results, with the share of peak where the device reports a peak.</summary>
    public static string Table(IEnumerable<BandwidthResult> results)
    {
        var text = new StringBuilder();
        text.AppendLine("| operation | shape | MiB moved | ms per run | GB/s | % of peak |");
        text.AppendLine("|---|---|---:|---:|---:|---:|");
        foreach (var r in results)
        {
            string share = r.PeakGigabytesPerSecond is { } peak ? (100 * r.GigabytesPerSecond / peak).ToString("F1", CultureInfo.InvariantCulture) : "n/a";
            text.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"| {r.Operation} | {r.Shape} | {r.Bytes / (1 << 20):F0} | {r.Milliseconds:F4} | {r.GigabytesPerSecond:F1} | {share} |"));
        }
        return text.ToString();
    }
}
