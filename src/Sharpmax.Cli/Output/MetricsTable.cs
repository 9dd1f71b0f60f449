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
        return Invariant($"{m.Epoch,5}  {Loss(m.TrainLoss),10}  {m.TrainAccuracy,9:P2}  {Loss(m.TestLoss),9}  {m.TestAccuracy,8:P2}  {m.Seconds,7:F2}  {m.ImagesPerSecond,9:N0}");
    }

    // Four decimals as usual; a diverging run's huge losses in exponent form, so the columns stay aligned.
    private static string Loss(double value) => Math.Abs(value) < 1e4 ? Invariant($"{value:F4}") : Invariant($"{value:0.00e+0}");
}
