using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Sharpmax.Cli.Data;
using Sharpmax.Cli.Training;

namespace Sharpmax.Bench;

/// <summary>One implementation's run of a training job (<see cref="EndToEnd.SoftmaxJob"/> or
/// <see cref="EndToEnd.MlpJob"/>): seconds for the epochs (training and per-epoch test evaluation, not data
/// loading), final test accuracy, or why it was skipped or failed.</summary>
internal sealed record EndToEndResult(string Job, string Name, double? Seconds, double? TestAccuracy, string Note, bool Failed = false)
{
    public bool Ran => Seconds is not null;
}

/// <summary>
/// Two training jobs, each timed three ways in one run: d2l's softmax regression and d2l's MLP (784 → 256 ReLU
/// → 10, <c>train --hidden 256</c>), by Sharpmax's trainer on the CPU device (in this process, the CLI's Trainer)
/// and by bench/reference/train_numpy.py / train_torch.py (with --hidden for the MLP) under
/// /usr/bin/python3. A Python baseline whose module is not installed is skipped with the reason.
/// </summary>
internal static class EndToEnd
{
    public const string Python = "/usr/bin/python3";
    public const string SoftmaxJob = "softmax regression";
    public const string MlpJob = "MLP 784-256-10";
    public const string NumPy = "NumPy";
    public const string PyTorch = "PyTorch (CPU)";
    private const int MlpHidden = 256;
    private static readonly TimeSpan PythonTimeout = TimeSpan.FromMinutes(15);

    public static IReadOnlyList<EndToEndResult> Run(string? dataOption, int epochs)
    {
        var files = new FashionMnistLocator().Locate(dataOption);
        string dataDirectory = Path.GetDirectoryName(Path.GetFullPath(files.TrainImages))!;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"// end to end: {epochs} epochs, data {dataDirectory}"));
        string[] mlpArguments = ["--hidden", MlpHidden.ToString(CultureInfo.InvariantCulture)];
        return
        [
            Sharpmax(SoftmaxJob, files, epochs, []),
            PythonBaseline(SoftmaxJob, NumPy, "numpy", "python3-numpy", "train_numpy.py", dataDirectory, epochs, []),
            PythonBaseline(SoftmaxJob, PyTorch, "torch", "python3-torch", "train_torch.py", dataDirectory, epochs, []),
            Sharpmax(MlpJob, files, epochs, [MlpHidden]),
            PythonBaseline(MlpJob, NumPy, "numpy", "python3-numpy", "train_numpy.py", dataDirectory, epochs, mlpArguments),
            PythonBaseline(MlpJob, PyTorch, "torch", "python3-torch", "train_torch.py", dataDirectory, epochs, mlpArguments),
        ];
    }

    private static EndToEndResult Sharpmax(string job, FashionMnistFiles files, int epochs, int[] hidden)
    {
        const string name = "Sharpmax (CPU device)";
        try
        {
            var data = FashionMnist.Load(files);
            using var device = Device.Open(DeviceKind.Cpu);
            var settings = new TrainSettings { Epochs = epochs, Device = DeviceKind.Cpu, Quiet = true, HiddenSizes = hidden };
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
                    $"//   sharpmax {job} epoch {epoch}: train loss {last.TrainLoss:F4}, train acc {last.TrainAccuracy:F4}, test loss {last.TestLoss:F4}, test acc {last.TestAccuracy:F4}, {clock.Elapsed.TotalSeconds:F3} s so far"));
            }
            double seconds = clock.Elapsed.TotalSeconds;
            return new EndToEndResult(job, name, seconds, last!.TestAccuracy, string.Create(CultureInfo.InvariantCulture,
                $"in-process trainer, fused cross-entropy, {device.Name}; training passes {trainingSeconds:F2} s, evaluation and the rest {seconds - trainingSeconds:F2} s; first epoch (start-up included: code not compiled ahead of time is JIT-compiled there) {firstEpochSeconds:F2} s"));
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            Console.WriteLine($"//   sharpmax {job} failed: {e}");
            return new EndToEndResult(job, name, null, null, $"failed: {e.GetType().Name}: {e.Message}", Failed: true);
        }
    }

    private static EndToEndResult PythonBaseline(string job, string name, string module, string package, string script, string dataDirectory, int epochs, string[] extra)
    {
        if (!File.Exists(Python))
            return Skip(job, name, $"skipped: {Python} not found (install {package})");
        var probe = RunProcess(Python, ["-c", $"import {module}"], TimeSpan.FromMinutes(2), echoAs: null);
        if (probe.ExitCode != 0)
            return Skip(job, name, $"skipped: {package} is not installed ({LastLine(probe.Error)})");

        string path = Path.Combine(AppContext.BaseDirectory, "reference", script);
        var run = RunProcess(Python, [path, "--data", dataDirectory, "--epochs", epochs.ToString(CultureInfo.InvariantCulture), .. extra], PythonTimeout, echoAs: module);
        var resultLine = run.Output.Split('\n').LastOrDefault(l => l.StartsWith("RESULT ", StringComparison.Ordinal));
        if (run.ExitCode != 0 || resultLine is null)
        {
            string why = run.TimedOut ? $"timed out after {PythonTimeout.TotalMinutes} min" : $"exit code {run.ExitCode}: {LastLine(run.Error)}";
            return new EndToEndResult(job, name, null, null, $"failed: {script} {why}", Failed: true);
        }
        using var json = JsonDocument.Parse(resultLine["RESULT ".Length..]);
        var root = json.RootElement;
        return new EndToEndResult(job, name, root.GetProperty("seconds").GetDouble(), root.GetProperty("test_acc").GetDouble(),
            $"{script}, float32");
    }

    private static EndToEndResult Skip(string job, string name, string reason)
    {
        Console.WriteLine($"//   {job}, {name}: {reason}");
        return new EndToEndResult(job, name, null, null, reason);
    }

    /// <summary>The seconds of <paramref name="name"/>'s run of <paramref name="job"/>, when it ran.</summary>
    public static double? Seconds(IReadOnlyList<EndToEndResult>? results, string job, string name) =>
        results?.FirstOrDefault(r => r.Job == job && r.Name == name)?.Seconds;

    /// <summary>The seconds of Sharpmax's run of <paramref name="job"/>, when it ran.</summary>
    public static double? OurSeconds(IReadOnlyList<EndToEndResult>? results, string job) =>
        results?.FirstOrDefault(r => r.Job == job && r.Name.StartsWith("Sharpmax", StringComparison.Ordinal))?.Seconds;

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
