using System.Buffers.Binary;
using NUnit.Framework;
using Sharpmax.Cli.Data;
using Sharpmax.Cli.Output;
using Sharpmax.Cli.Training;

namespace Sharpmax.Tests.Cli;

public class OutputFilesTests
{
    private static readonly byte[] PngSignature = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];

    /// <summary>Checks the PNG signature and returns the IHDR width and height.</summary>
    public static (int Width, int Height) PngSize(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        Assert.That(bytes.AsSpan(0, 8).ToArray(), Is.EqualTo(PngSignature), $"{path} is not a PNG");
        return (BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(16)), BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(20)));
    }

    private static List<EpochMetrics> History(int epochs) =>
        Enumerable.Range(1, epochs).Select(e => new EpochMetrics(e, 0.8 / e + 0.4, 0.75 + 0.01 * e, 0.7 / e + 0.45, 0.74 + 0.01 * e, 1.25, 48000.5, 3 + e)).ToList();

    [Test]
    public void Metrics_csv_round_trips_exactly_with_the_documented_header()
    {
        using var dir = new TempDirectory();
        string path = dir.File(MetricsCsv.FileName);
        var rows = History(3);
        rows.Add(rows[0] with { Epoch = 4, TrainLoss = 1.0 / 3.0, TestAccuracy = 0.1 + 0.2 });

        MetricsCsv.Write(path, rows);

        Assert.That(File.ReadLines(path).First(), Is.EqualTo("epoch,train_loss,train_acc,test_loss,test_acc,seconds,images_per_s,host_syncs"));
        Assert.That(MetricsCsv.Read(path), Is.EqualTo(rows), "doubles are written in round-trip form");
        Assert.That(File.ReadAllLines(path), Has.Length.EqualTo(5));
    }

    [Test]
    public void Metrics_csv_is_rewritten_whole_each_epoch()
    {
        using var dir = new TempDirectory();
        string path = dir.File(MetricsCsv.FileName);
        MetricsCsv.Write(path, History(2));
        MetricsCsv.Write(path, History(3));
        Assert.That(MetricsCsv.Read(path), Has.Count.EqualTo(3));
        Assert.That(Directory.GetFiles(dir.Path), Has.Length.EqualTo(1));
    }

    [Test]
    public void Table_rows_line_up_with_the_header()
    {
        string row = MetricsTable.Row(new EpochMetrics(10, 0.44712, 0.84861, 0.51234, 0.8312, 1.234, 48623.4, 7));
        Assert.That(row, Is.EqualTo("   10      0.4471    84.86 %     0.5123   83.12 %     1.23     48,623"));
        Assert.That(row.Length, Is.EqualTo(MetricsTable.Header.Length));
    }

    [Test]
    public void Confusion_matrix_counts_and_csv()
    {
        using var dir = new TempDirectory();
        byte[] labels = [0, 0, 1, 2, 2, 2];
        int[] predictions = [0, 1, 1, 2, 0, 2];
        var matrix = new ConfusionMatrix(FashionMnistClasses.Names, labels, predictions);

        matrix.SaveCsv(dir.File(ConfusionMatrix.CsvFileName));

        Assert.That((matrix[0, 0], matrix[0, 1], matrix[2, 0], matrix[2, 2]), Is.EqualTo((1, 1, 1, 2)));
        string[] lines = File.ReadAllLines(dir.File(ConfusionMatrix.CsvFileName));
        Assert.That(lines, Has.Length.EqualTo(11));
        Assert.That(lines[0], Is.EqualTo("true\\predicted,t-shirt,trouser,pullover,dress,coat,sandal,shirt,sneaker,bag,ankle boot"));
        Assert.That(lines[3], Is.EqualTo("pullover,1,0,2,0,0,0,0,0,0,0"));
    }

    [Test]
    public void Pictures_are_pngs_of_the_expected_size()
    {
        using var dir = new TempDirectory();
        var test = new LabeledImages(IdxFixture.Pixels(30), IdxFixture.Labels(30));
        int[] predictions = test.Labels.Select((l, i) => i % 3 == 0 ? (l + 1) % 10 : l).ToArray();

        CurvesPlot.Save(dir.File(CurvesPlot.FileName), History(5), "test");
        var matrix = new ConfusionMatrix(FashionMnistClasses.Names, test.Labels, predictions);
        matrix.SavePng(dir.File(ConfusionMatrix.PngFileName), "test");
        int drawn = MisclassifiedTile.Save(dir.File(MisclassifiedTile.FileName), test, predictions, FashionMnistClasses.Names);

        Assert.That(PngSize(dir.File(CurvesPlot.FileName)), Is.EqualTo((720, 480)));
        Assert.That(PngSize(dir.File(ConfusionMatrix.PngFileName)), Is.EqualTo((820, 760)));
        Assert.That(drawn, Is.EqualTo(10));
        Assert.That(PngSize(dir.File(MisclassifiedTile.FileName)), Is.EqualTo((980, 2 * 10 + 30 + 2 * (84 + 56))));
    }

    [Test]
    public void A_perfect_model_still_gets_a_misclassified_picture()
    {
        using var dir = new TempDirectory();
        var test = new LabeledImages(IdxFixture.Pixels(4), IdxFixture.Labels(4));
        int drawn = MisclassifiedTile.Save(dir.File("m.png"), test, test.Labels.Select(l => (int)l).ToArray(), FashionMnistClasses.Names);
        Assert.That(drawn, Is.Zero);
        Assert.That(PngSize(dir.File("m.png")).Width, Is.GreaterThan(0));
    }
}
