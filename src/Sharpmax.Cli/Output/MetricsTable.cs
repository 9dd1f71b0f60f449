using Sharpmax.Cli.Training;
using static System.FormattableString;

namespace Sharpmax.Cli.Output;

/// <summary>The per-epoch table printed during training.</summary>
public static class MetricsTable
{
    public static string Header { get; } = "epoch  train loss  train acc  test loss  test acc  seconds   images/s";

    public static string Row(EpochMetrics m)
    {
        ArgumentNullException.ThrowIfNull(m);
        return Invariant($"{m.Epoch,5}  {m.TrainLoss,10:F4}  {m.TrainAccuracy,9:P2}  {m.TestLoss,9:F4}  {m.TestAccuracy,8:P2}  {m.Seconds,7:F2}  {m.ImagesPerSecond,9:N0}");
    }
}
