using ScottPlot;
using Sharpmax.Cli.Training;

namespace Sharpmax.Cli.Output;

/// <summary><c>curves.png</c>: train loss, test loss and test accuracy by epoch on one axis, as in d2l's training plot.</summary>
public static class CurvesPlot
{
    public const string FileName = "curves.png";

    public static void Save(string path, IReadOnlyList<EpochMetrics> epochs, string title)
    {
        ArgumentNullException.ThrowIfNull(epochs);
        double[] x = epochs.Select(e => (double)e.Epoch).ToArray();
        var plot = new Plot();
        plot.Font.Set(PlotFont.Name);
        AddLine(plot, x, epochs.Select(e => e.TrainLoss), "train loss", Colors.C0, LinePattern.Solid);
        AddLine(plot, x, epochs.Select(e => e.TestLoss), "test loss", Colors.C1, LinePattern.Dashed);
        AddLine(plot, x, epochs.Select(e => e.TestAccuracy), "test acc", Colors.C2, LinePattern.DenselyDashed);
        plot.Title(title);
        plot.XLabel("epoch");
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { IntegerTicksOnly = true };
        double top = Math.Max(1.0, epochs.Max(e => Math.Max(e.TrainLoss, e.TestLoss)) * 1.05);
        plot.Axes.SetLimits(Math.Min(0.5, x[0] - 0.5), x[^1] + 0.5, 0, double.IsFinite(top) ? top : 1.0);
        plot.ShowLegend(Edge.Right);
        AtomicFile.Write(path, stream => stream.Write(plot.GetImageBytes(720, 480, ImageFormat.Png)));
    }

    private static void AddLine(Plot plot, double[] x, IEnumerable<double> y, string label, Color color, LinePattern pattern)
    {
        var line = plot.Add.Scatter(x, y.ToArray(), color);
        line.LegendText = label;
        line.LineWidth = 2;
        line.LinePattern = pattern;
        line.MarkerSize = 6;
    }
}
