using CsvHelper;
using Sharpmax.Cli.Training;

namespace Sharpmax.Cli.Output;

/// <summary>
/// <c>metrics.csv</c>: one row per epoch (epoch, train_loss, train_acc, test_loss, test_acc, seconds, images_per_s),
/// numbers in the shortest form that round-trips. Each epoch rewrites the whole file atomically, so the file is
/// always complete and parseable even if the run dies.
/// </summary>
public static class MetricsCsv
{
    public const string FileName = "metrics.csv";

    public static void Write(string path, IEnumerable<EpochMetrics> rows) =>
        AtomicFile.Write(path, stream =>
        {
            using var csv = CsvWriter.Create(stream, CsvWriterOptions.Default with { NewLine = "\n" }, leaveOpen: true);
            csv.WriteRecords(rows);
        });

    public static List<EpochMetrics> Read(string path)
    {
        using var csv = CsvReader.Create(File.OpenRead(path), CsvReaderOptions.Default, leaveOpen: false);
        return csv.GetRecords<EpochMetrics>().ToList();
    }
}
