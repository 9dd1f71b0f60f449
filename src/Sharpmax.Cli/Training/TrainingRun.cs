using System.Diagnostics;
using Sharpmax.Cli.Commands;
using Sharpmax.Cli.Data;
using Sharpmax.Cli.Output;
using static System.FormattableString;

namespace Sharpmax.Cli.Training;

/// <summary>
/// One <c>sharpmax train</c> run: trains epoch by epoch, and after each finite epoch prints its row, rewrites
/// metrics.csv and saves model.ckpt; at the end draws the pictures from the last good checkpoint.
/// A non-finite loss stops the run and leaves the last good checkpoint in place.
/// </summary>
public static class TrainingRun
{
    public const string CheckpointFileName = "model.ckpt";

    public static int Run(TrainSettings settings, FashionMnist data, CliConsole console)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(console);
        string outputDirectory = Path.GetFullPath(settings.OutputDirectory);
        try
        {
            Directory.CreateDirectory(outputDirectory);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UserErrorException($"--out {settings.OutputDirectory}: cannot create the output directory: {e.Message}", e);
        }
        string checkpointPath = Path.Combine(outputDirectory, CheckpointFileName);

        using var device = Device.Open(settings.Device);
        console.Out.WriteLine($"device: {device.Description}");
        console.Out.WriteLine(Invariant($"recipe: {data.Train.Count} training images, {settings.Epochs} epochs, batch {settings.BatchSize}, lr {settings.LearningRate}, weight decay {settings.WeightDecay}, label smoothing {settings.LabelSmoothing}, {settings.Loss.ToString().ToLowerInvariant()} cross-entropy, seed {settings.Seed}"));
        console.Out.WriteLine($"output: {outputDirectory}");

        using var trainer = new Trainer(device, data, settings);
        var progress = new ProgressDisplay(console.Out, console.IsTerminal, settings.Quiet);
        var history = new List<EpochMetrics>();
        Checkpoint? lastGood = null;
        int exitCode = ExitCodes.Success;
        var total = Stopwatch.StartNew();
        console.Out.WriteLine(MetricsTable.Header);
        for (int epoch = 1; epoch <= settings.Epochs; epoch++)
        {
            EpochMetrics metrics;
            try
            {
                metrics = trainer.RunEpoch(epoch, (done, rate) => progress.Report(epoch, settings.Epochs, done, data.Train.Count, rate));
            }
            catch (TrainingDivergedException e)
            {
                progress.Clear();
                string kept = lastGood is null
                    ? $"This run wrote no checkpoint ({checkpointPath} from an earlier run, if any, is untouched)."
                    : $"{checkpointPath} keeps epoch {lastGood.Epoch}.";
                console.Error.WriteLine($"sharpmax: error: training stopped: {e.Message}. Try a smaller --lr. {kept}");
                exitCode = ExitCodes.Diverged;
                break;
            }
            progress.Clear();
            history.Add(metrics);
            console.Out.WriteLine(MetricsTable.Row(metrics));
            console.Out.Flush();
            MetricsCsv.Write(Path.Combine(outputDirectory, MetricsCsv.FileName), history);
            lastGood = trainer.Checkpoint(metrics);
            lastGood.Save(checkpointPath);
        }

        if (lastGood is not null)
        {
            WritePictures(outputDirectory, trainer.Evaluator, lastGood, data.Test, history, settings);
            var last = history[^1];
            console.Out.WriteLine(Invariant($"done: test accuracy {last.TestAccuracy:P2} after {last.Epoch} epochs, {total.Elapsed.TotalSeconds:F1} s in all"));
            console.Out.WriteLine($"wrote {MetricsCsv.FileName}, {CheckpointFileName}, {CurvesPlot.FileName}, {MisclassifiedTile.FileName}, {ConfusionMatrix.CsvFileName}, {ConfusionMatrix.PngFileName} to {outputDirectory}");
        }
        return exitCode;
    }

    private static void WritePictures(string directory, Evaluator evaluator, Checkpoint model, LabeledImages test,
        List<EpochMetrics> history, TrainSettings settings)
    {
        int[] predictions = evaluator.Evaluate(model, withPredictions: true).Predictions!;
        string recipe = Invariant($"lr {settings.LearningRate}, batch {settings.BatchSize}, {settings.Loss.ToString().ToLowerInvariant()} CE");
        CurvesPlot.Save(Path.Combine(directory, CurvesPlot.FileName), history, $"Softmax regression on Fashion-MNIST ({recipe})");
        var confusion = new ConfusionMatrix(FashionMnistClasses.Names, test.Labels, predictions);
        confusion.SaveCsv(Path.Combine(directory, ConfusionMatrix.CsvFileName));
        confusion.SavePng(Path.Combine(directory, ConfusionMatrix.PngFileName),
            Invariant($"Test-set confusion, epoch {model.Epoch}, accuracy {model.TestAccuracy:P2} (colour: share of the true class)"));
        MisclassifiedTile.Save(Path.Combine(directory, MisclassifiedTile.FileName), test, predictions, FashionMnistClasses.Names);
    }
}
