using System.Diagnostics;
using Sharpmax.Cli.Commands;
using Sharpmax.Cli.Data;
using Sharpmax.Cli.Output;
using static System.FormattableString;

namespace Sharpmax.Cli.Training;

/// <summary>
/// One <c>sharpmax train</c> run: trains epoch by epoch, and after each finite epoch prints its row, saves
/// model.ckpt and rewrites metrics.csv; at the end draws the pictures from the last good checkpoint.
/// A non-finite loss or a stop request ends training early; the files for the epochs done are still written.
/// A file that cannot be written ends the run with the last good checkpoint kept. The folder policy is
/// <see cref="RunFolder"/>'s.
/// </summary>
public static class TrainingRun
{
    public const string CheckpointFileName = "model.ckpt";

    /// <param name="settings">The recipe and the output folder.</param>
    /// <param name="data">Training and test sets.</param>
    /// <param name="console">Where the table and the messages go.</param>
    /// <param name="stop">When set (Ctrl-C), training stops at the end of the current batch.</param>
    /// <returns>An <see cref="ExitCodes"/> value: Success, Diverged, Interrupted, or BadInput when a file cannot be written.</returns>
    public static int Run(TrainSettings settings, FashionMnist data, CliConsole console, CancellationToken stop = default)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(console);
        var folder = RunFolder.Check(settings.OutputDirectory, settings.Overwrite);
        string outputDirectory = folder.Path;
        string checkpointPath = Path.Combine(outputDirectory, CheckpointFileName);

        using var device = Device.Open(settings.Device);
        console.Out.WriteLine($"device: {device.Description}");
        console.Out.WriteLine(Recipe(settings, data.Train.Count));
        console.Out.WriteLine($"output: {outputDirectory}");
        if (stop.IsCancellationRequested)
        {
            console.Error.WriteLine("sharpmax: interrupted before training started; nothing was written.");
            return ExitCodes.Interrupted;
        }
        folder.Begin(Recipe(settings, data.Train.Count));

        using var trainer = new Trainer(device, data, settings);
        var progress = new ProgressDisplay(console.Out, console.IsTerminal, settings.Quiet);
        var history = new List<EpochMetrics>();
        Checkpoint? lastGood = null;
        string Kept() => lastGood is null
            ? "This run finished no epoch, so it wrote no checkpoint."
            : Invariant($"{checkpointPath} keeps epoch {lastGood.Epoch} (test accuracy {lastGood.TestAccuracy:P2}).");
        int exitCode = ExitCodes.Success;
        string? interrupted = null;
        var total = Stopwatch.StartNew();
        console.Out.WriteLine(MetricsTable.Header);
        try
        {
            for (int epoch = 1; epoch <= settings.Epochs; epoch++)
            {
                if (stop.IsCancellationRequested)
                {
                    interrupted = Invariant($"before epoch {epoch}");
                    break;
                }
                EpochMetrics metrics;
                try
                {
                    metrics = trainer.RunEpoch(epoch, (done, rate) => progress.Report(epoch, settings.Epochs, done, data.Train.Count, rate), stop);
                }
                catch (TrainingDivergedException e)
                {
                    progress.Clear();
                    console.Error.WriteLine($"sharpmax: error: training stopped: {e.Message}. Try a smaller --lr. {Kept()}");
                    exitCode = ExitCodes.Diverged;
                    break;
                }
                catch (OperationCanceledException e) when (stop.IsCancellationRequested)
                {
                    progress.Clear();
                    interrupted = e.Message;
                    break;
                }
                progress.Clear();
                history.Add(metrics);
                console.Out.WriteLine(MetricsTable.Row(metrics));
                console.Out.Flush();
                // The checkpoint first: if metrics.csv then fails, the checkpoint is the newer, never the older.
                var checkpoint = trainer.Checkpoint(metrics);
                OutputWriteException.Guard(checkpointPath, checkpoint.Save);
                lastGood = checkpoint;
                OutputWriteException.Guard(Path.Combine(outputDirectory, MetricsCsv.FileName), path => MetricsCsv.Write(path, history));
            }

            if (lastGood is not null)
            {
                WritePictures(outputDirectory, trainer.Evaluator, lastGood, data.Test, history, settings);
            }
            OutputWriteException.Guard(Path.Combine(outputDirectory, RunFolder.IncompleteMarker), _ => folder.Complete());
        }
        catch (OutputWriteException e)
        {
            progress.Clear();
            console.Error.WriteLine($"sharpmax: error: {e.Message}. {Kept()} {RunFolder.IncompleteMarker} marks the run unfinished.");
            return ExitCodes.BadInput;
        }

        string written = $"{MetricsCsv.FileName}, {CheckpointFileName}, {CurvesPlot.FileName}, {MisclassifiedTile.FileName}, {ConfusionMatrix.CsvFileName}, {ConfusionMatrix.PngFileName}";
        if (interrupted is not null)
        {
            console.Error.WriteLine(lastGood is null
                ? $"sharpmax: interrupted {interrupted}; no epoch finished, so nothing was written."
                : Invariant($"sharpmax: interrupted {interrupted}. {Kept()} Wrote {written} for epochs 1-{lastGood.Epoch} to {outputDirectory}."));
            return ExitCodes.Interrupted;
        }
        if (lastGood is not null && exitCode == ExitCodes.Success)
        {
            var last = history[^1];
            console.Out.WriteLine(Invariant($"done: test accuracy {last.TestAccuracy:P2} after {last.Epoch} epochs, {total.Elapsed.TotalSeconds:F1} s in all"));
            console.Out.WriteLine($"wrote {written} to {outputDirectory}");
        }
        return exitCode;
    }

    /// <summary>The recipe as used: the parsed numbers, printed invariantly, and the batch size the data allows.</summary>
    private static string Recipe(TrainSettings settings, int trainCount)
    {
        string batch = settings.BatchSize <= trainCount
            ? Invariant($"batch {settings.BatchSize}")
            : Invariant($"batch {trainCount} (--batch-size {settings.BatchSize} is more than the training set)");
        return Invariant($"recipe: {trainCount} training images, {settings.Epochs} epochs, {batch}, lr {settings.LearningRate}, weight decay {settings.WeightDecay}, label smoothing {settings.LabelSmoothing}, {settings.Loss.ToString().ToLowerInvariant()} cross-entropy, seed {settings.Seed}, model {settings.ModelDescription(IdxReader.PixelsPerImage, IdxReader.ClassCount)}");
    }

    private static void WritePictures(string directory, Evaluator evaluator, Checkpoint model, LabeledImages test,
        List<EpochMetrics> history, TrainSettings settings)
    {
        int[] predictions = evaluator.Evaluate(model, withPredictions: true).Predictions!;
        string recipe = Invariant($"lr {settings.LearningRate}, batch {settings.BatchSize}, {settings.Loss.ToString().ToLowerInvariant()} CE");
        OutputWriteException.Guard(Path.Combine(directory, CurvesPlot.FileName),
            path => CurvesPlot.Save(path, history, settings.HiddenSizes.Count == 0
                ? $"Softmax regression on Fashion-MNIST ({recipe})"
                : Invariant($"MLP {string.Join("-", settings.LayerSizes(IdxReader.PixelsPerImage, IdxReader.ClassCount))} on Fashion-MNIST ({recipe})")));
        var confusion = new ConfusionMatrix(FashionMnistClasses.Names, test.Labels, predictions);
        OutputWriteException.Guard(Path.Combine(directory, ConfusionMatrix.CsvFileName), confusion.SaveCsv);
        OutputWriteException.Guard(Path.Combine(directory, ConfusionMatrix.PngFileName), path => confusion.SavePng(path,
            Invariant($"Test-set confusion, epoch {model.Epoch}, accuracy {model.TestAccuracy:P2} (colour: share of the true class)")));
        OutputWriteException.Guard(Path.Combine(directory, MisclassifiedTile.FileName),
            path => MisclassifiedTile.Save(path, test, predictions, FashionMnistClasses.Names));
    }
}
