using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Sharpmax.Cli.Data;
using Sharpmax.Cli.Training;

namespace Sharpmax.Bench;

/// <summary>One implementation's run of the training job: seconds for the epochs (training and per-epoch test
/// evaluation, not data loading), final test accuracy, or why it was skipped or failed.</summary>
internal sealed record EndToEndResult(string Name, double? Seconds, double? TestAccuracy, string Note, bool Failed = false)
{
    public bool Ran => Seconds is not null;
}

/// <summary>
/// The default training job (d2l's recipe) timed three ways in one run: Sharpmax's trainer on the CPU device
/// (in this process), and bench/reference/train_numpy.py and train_torch.py under /usr/bin/python3. A Python
/// baseline whose module is not installed is skipped with the reason.
/// </summary>
internal static class EndToEnd
{
    public const string Python = "/usr/bin/python3";
    private static readonly TimeSpan PythonTimeout = TimeSpan.FromMinutes(15);

    public static IReadOnlyList<EndToEndResult> Run(string? dataOption, int epochs)
    {
        var files = new FashionMnistLocator().Locate(dataOption);
        string dataDirectory = Path.GetDirectoryName(Path.GetFullPath(files.TrainImages))!;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"// end to end: {epochs} epochs, data {dataDirectory}"));
        return
        [
            Sharpmax(files, epochs),
            PythonBaseline("NumPy", "numpy", "python3-numpy", "train_numpy.py", dataDirectory, epochs),
            PythonBaseline("PyTorch (CPU)", "torch", "python3-torch", "train_torch.py", dataDirectory, epochs),
        ];
    }

    private static EndToEndResult Sharpmax(FashionMnistFiles files, int epochs)
    {
        const string name = "Sharpmax (CPU device)";
        try
        {
            var data = FashionMnist.Load(files);
            using var device = Device.Open(DeviceKind.Cpu);
            var settings = new TrainSettings { Epochs = epochs, Device = DeviceKind.Cpu, Quiet = true };
            using var trainer = new Trainer(device, data, settings);
            // The breakdown (first epoch, training passes as the trainer times them, the rest: evaluation and
            // per-epoch bookkeeping) says where the time goes when the goal is missed.
            var clock = Stopwatch.StartNew();
            EpochMetrics? last = null;
            double trainingSeconds = 0, firstEpochSeconds = 0;
            for (int epoch = 1; epoch <= epochs; epoch++)
            {
                last = trainer.RunEpoch(epoch, null);
                trainingSeconds += last.Seconds;
                if (epoch == 1)
                    firstEpochSeconds = clock.Elapsed.TotalSeconds;
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"//   sharpmax epoch {epoch}: train loss {last.TrainLoss:F4}, train acc {last.TrainAccuracy:F4}, test loss {last.TestLoss:F4}, test acc {last.TestAccuracy:F4}, {clock.Elapsed.TotalSeconds:F3} s so far"));
            }
            double seconds = clock.Elapsed.TotalSeconds;
            return new EndToEndResult(name, seconds, last!.TestAccuracy, string.Create(CultureInfo.InvariantCulture,
                $"in-process trainer, fused cross-entropy, {device.Name}; training passes {trainingSeconds:F2} s, evaluation and the rest {seconds - trainingSeconds:F2} s; first epoch (JIT included) {firstEpochSeconds:F2} s"));
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            Console.WriteLine($"//   sharpmax failed: {e}");
            return new EndToEndResult(name, null, null, $"failed: {e.GetType().Name}: {e.Message}", Failed: true);
        }
    }

    private static EndToEndResult PythonBaseline(string name, string module, string package, string script, string dataDirectory, int epochs)
    {
        if (!File.Exists(Python))
            return Skip(name, $"skipped: {Python} not found (install {package})");
        var probe = RunProcess(Python, ["-c", $"import {module}"], TimeSpan.FromMinutes(2), echoAs: null);
        if (probe.ExitCode != 0)
            return Skip(name, $"skipped: {package} is not installed ({LastLine(probe.Error)})");

        string path = Path.Combine(AppContext.BaseDirectory, "reference", script);
        var run = RunProcess(Python, [path, "--data", dataDirectory, "--epochs", epochs.ToString(CultureInfo.InvariantCulture)], PythonTimeout, echoAs: module);
        var resultLine = run.Output.Split('\n').LastOrDefault(l => l.StartsWith("RESULT ", StringComparison.Ordinal));
        if (run.ExitCode != 0 || resultLine is null)
        {
            string why = run.TimedOut ? $"timed out after {PythonTimeout.TotalMinutes} min" : $"exit code {run.ExitCode}: {LastLine(run.Error)}";
            return new EndToEndResult(name, null, null, $"failed: {script} {why}", Failed: true);
        }
        using var json = JsonDocument.Parse(resultLine["RESULT ".Length..]);
        var root = json.RootElement;
        return new EndToEndResult(name, root.GetProperty("seconds").GetDouble(), root.GetProperty("test_acc").GetDouble(),
            $"{script}, float32");
    }

    private static EndToEndResult Skip(string name, string reason)
    {
        Console.WriteLine($"//   {name}: {reason}");
        return new EndToEndResult(name, null, null, reason);
    }

    private static string LastLine(string text) =>
        text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault() ?? "no output";

    private sealed record ProcessResult(int ExitCode, string Output, string Error, bool TimedOut);

    private static ProcessResult RunProcess(string file, string[] arguments, TimeSpan timeout, string? echoAs)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
            start.ArgumentList.Add(argument);
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {file}");
        var output = new System.Text.StringBuilder();
        var error = new System.Text.StringBuilder();
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
                return;
            lock (output)
                output.Append(e.Data).Append('\n');
            if (echoAs is not null)
                Console.WriteLine($"//   {echoAs} {e.Data}");
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
                lock (error)
                    error.Append(e.Data).Append('\n');
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        bool finished = process.WaitForExit(timeout);
        if (!finished)
            process.Kill(entireProcessTree: true);
        process.WaitForExit();
        lock (output)
            lock (error)
                return new ProcessResult(finished ? process.ExitCode : -1, output.ToString(), error.ToString(), !finished);
    }
}
