using System.Globalization;
using Sharpmax.Cli.Output;

namespace Sharpmax.GpuCheck;

/// <summary>
/// The <c>compare-metrics</c> command: a training run's metrics.csv against the CPU device's reference run of the
/// same seed and recipe, epoch by epoch, over the epochs the run has (at least one). Accuracies (fractions) must
/// agree within <c>accuracyTolerance</c> absolute, losses within <c>lossTolerance</c> relative. The two devices
/// sum in different orders, so their float32 results differ by rounding, and SGD carries that forward; softmax
/// regression is convex and SGD contracts those differences, so they stay near float32 rounding (≪ 1e-3) while
/// an indexing bug or a wrong gradient moves loss by whole percents and accuracy by points.
/// </summary>
internal static class MetricsComparison
{
    public static int Run(string actualPath, string referencePath, double accuracyTolerance, double lossTolerance, TextWriter log)
    {
        var actual = MetricsCsv.Read(actualPath);
        var reference = MetricsCsv.Read(referencePath);
        if (actual.Count == 0 || actual.Count > reference.Count)
        {
            log.WriteLine($"error: {actualPath} has {actual.Count} epochs; the reference {referencePath} has {reference.Count} (need 1..{reference.Count})");
            return 1;
        }

        int failures = 0;
        log.WriteLine("epoch,metric,actual,reference,difference,tolerance,ok");
        for (int e = 0; e < actual.Count; e++)
        {
            var (a, r) = (actual[e], reference[e]);
            failures += Compare(e + 1, "train_loss", a.TrainLoss, r.TrainLoss, relative: true, lossTolerance, log);
            failures += Compare(e + 1, "test_loss", a.TestLoss, r.TestLoss, relative: true, lossTolerance, log);
            failures += Compare(e + 1, "train_acc", a.TrainAccuracy, r.TrainAccuracy, relative: false, accuracyTolerance, log);
            failures += Compare(e + 1, "test_acc", a.TestAccuracy, r.TestAccuracy, relative: false, accuracyTolerance, log);
        }
        log.WriteLine(failures == 0
            ? $"metrics agree over {actual.Count} epoch(s): accuracy within {accuracyTolerance} absolute, loss within {lossTolerance} relative"
            : $"error: {failures} metric(s) outside tolerance");
        return failures == 0 ? 0 : 1;
    }

    private static int Compare(int epoch, string metric, double actual, double reference, bool relative, double tolerance, TextWriter log)
    {
        double difference = relative ? Math.Abs(actual - reference) / Math.Max(Math.Abs(reference), 1e-30) : Math.Abs(actual - reference);
        bool ok = difference <= tolerance;
        log.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{epoch},{metric},{actual:R},{reference:R},{difference:G3},{tolerance},{(ok ? "yes" : "NO")}"));
        return ok ? 0 : 1;
    }
}
