using System.Globalization;
using CsvHelper;
using ScottPlot;

namespace Sharpmax.Cli.Output;

/// <summary>Counts of (true class, predicted class) over a test set; rows are true classes, columns predictions.</summary>
public sealed class ConfusionMatrix
{
    public const string CsvFileName = "confusion.csv";
    public const string PngFileName = "confusion.png";

    private readonly int[,] _counts;

    public ConfusionMatrix(IReadOnlyList<string> classNames, ReadOnlySpan<byte> labels, ReadOnlySpan<int> predictions)
    {
        ArgumentNullException.ThrowIfNull(classNames);
        if (labels.Length != predictions.Length)
        {
            throw new ArgumentException($"{labels.Length} labels but {predictions.Length} predictions");
        }
        ClassNames = classNames;
        _counts = new int[classNames.Count, classNames.Count];
        for (int i = 0; i < labels.Length; i++)
        {
            _counts[labels[i], predictions[i]]++;
        }
    }

    public IReadOnlyList<string> ClassNames { get; }

    public int this[int trueClass, int predictedClass] => _counts[trueClass, predictedClass];

    /// <summary>Writes the matrix with a header row of predicted class names and a first column of true class names.</summary>
    public void SaveCsv(string path) => AtomicFile.Write(path, stream =>
    {
        using var csv = CsvWriter.Create(stream, CsvWriterOptions.Default with { NewLine = "\n" }, leaveOpen: true);
        csv.WriteField("true\\predicted");
        foreach (string name in ClassNames)
        {
            csv.WriteField(name);
        }
        csv.EndRecord();
        for (int t = 0; t < ClassNames.Count; t++)
        {
            csv.WriteField(ClassNames[t]);
            for (int p = 0; p < ClassNames.Count; p++)
            {
                csv.WriteField(_counts[t, p], default);
            }
            csv.EndRecord();
        }
    });

    /// <summary>A heatmap coloured by the share of each true class (row), with the count written in every cell.</summary>
    public void SavePng(string path, string title)
    {
        int n = ClassNames.Count;
        var share = new double[n, n];
        for (int t = 0; t < n; t++)
        {
            double rowTotal = Math.Max(1, Enumerable.Range(0, n).Sum(p => _counts[t, p]));
            for (int p = 0; p < n; p++)
            {
                share[t, p] = _counts[t, p] / rowTotal;
            }
        }

        var plot = new Plot();
        plot.Font.Set(PlotFont.Name);
        var heatmap = plot.Add.Heatmap(share);
        heatmap.Colormap = new ScottPlot.Colormaps.CustomInterpolated([Colors.White, new Color(8, 48, 107)]);
        heatmap.ManualRange = new ScottPlot.Range(0, 1);
        // Position names the centres of the corner cells: cell (t, p) is centred at x = p, y = n-1-t (true class 0 on top).
        heatmap.Position = new CoordinateRect(0, n - 1, 0, n - 1);
        for (int t = 0; t < n; t++)
        {
            for (int p = 0; p < n; p++)
            {
                var text = plot.Add.Text(_counts[t, p].ToString(CultureInfo.InvariantCulture), p, n - 1 - t);
                text.LabelAlignment = Alignment.MiddleCenter;
                text.LabelFontSize = 13;
                text.LabelFontColor = share[t, p] > 0.5 ? Colors.White : Colors.Black;
            }
        }
        double[] positions = Enumerable.Range(0, n).Select(i => (double)i).ToArray();
        plot.Axes.Bottom.SetTicks(positions, ClassNames.ToArray());
        plot.Axes.Bottom.TickLabelStyle.Rotation = -40;
        plot.Axes.Bottom.TickLabelStyle.Alignment = Alignment.UpperRight;
        plot.Axes.Bottom.MinimumSize = 100;
        plot.Axes.Left.SetTicks(positions, ClassNames.Reverse().ToArray());
        plot.XLabel("predicted class");
        plot.YLabel("true class");
        plot.Title(title);
        plot.Axes.SetLimits(-0.5, n - 0.5, -0.5, n - 0.5);
        plot.Add.ColorBar(heatmap);
        AtomicFile.Write(path, stream => stream.Write(plot.GetImageBytes(820, 760, ImageFormat.Png)));
    }
}
