using System.Diagnostics;
using NUnit.Framework;
using Sharpmax.Cli;
using Sharpmax.Cli.Output;

namespace Sharpmax.Tests.Cli;

/// <summary>
/// <c>sharpmax train</c> as a real child process, for what only a process shows: a signal sent to it, and a disk
/// that fills up under it (a small tmpfs, where the machine lets the test mount one).
/// </summary>
[NonParallelizable]
public class TrainProcessTests
{
    private static readonly string[] RunFiles = ["confusion.csv", "confusion.png", "curves.png", "metrics.csv", "misclassified.png", "model.ckpt"];

    private static string CliDll()
    {
        var directory = new DirectoryInfo(TestContext.CurrentContext.TestDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Sharpmax.slnx")))
        {
            directory = directory.Parent;
        }
        string dll = Path.Combine(directory?.FullName ?? "", "src/Sharpmax.Cli/bin/Release/net10.0/Sharpmax.Cli.dll");
        Assume.That(File.Exists(dll), Is.True, $"the CLI is not built at {dll}");
        return dll;
    }

    private static Process Start(params string[] args)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(CliDll());
        foreach (string arg in args)
        {
            info.ArgumentList.Add(arg);
        }
        return Process.Start(info)!;
    }

    // A shell without job control starts a background command with SIGINT ignored, and an ignored signal stays
    // ignored in every child (POSIX; the .NET runtime then installs no handler for it): such a child cannot be
    // interrupted, which is the shell's intent, not a fault of the CLI.
    private static void AssumeSigintReachesChildren()
    {
        if (!OperatingSystem.IsLinux())
            return;
        string? ignored = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("SigIgn:", StringComparison.Ordinal));
        ulong mask = ignored is null ? 0 : Convert.ToUInt64(ignored["SigIgn:".Length..].Trim(), 16);
        Assume.That(mask & (1UL << (2 - 1)), Is.Zero, "SIGINT is ignored in this process (started in the background by a non-interactive shell), so a child cannot receive it");
    }

    // Kills a child still running when its test ends (a failed assertion, a signal that did not stop it), so that a
    // failure is reported instead of the test run hanging on a process that trains for a million epochs.
    private sealed class KillOnDispose(Process process) : IDisposable
    {
        public void Dispose()
        {
            try
            {
                if (!process.HasExited)
                    process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
                // it exited meanwhile
            }
        }
    }

    private static void Signal(Process process, string signal)
    {
        using var kill = Process.Start("kill", $"-{signal} {process.Id}")!;
        kill.WaitForExit();
        Assert.That(kill.ExitCode, Is.Zero, $"kill -{signal}");
    }

    [Test]
    public void Under_a_german_locale_the_process_parses_and_speaks_as_under_any_other()
    {
        using var dir = new TempDirectory();
        IdxFixture.WriteDataSet(dir.File("data"), train: 20, test: 10);
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string arg in new[] { CliDll(), "train", "--data", dir.File("data"), "--out", dir.File("out"), "--device", "cpu", "--epochs", "1", "--lr", "0.1", "--weight-decay", "0.0001" })
        {
            info.ArgumentList.Add(arg);
        }
        info.Environment["LANG"] = info.Environment["LC_ALL"] = "de_DE.UTF-8";
        using var train = Process.Start(info)!;
        string output = train.StandardOutput.ReadToEnd();
        train.WaitForExit();
        Assert.That(train.ExitCode, Is.Zero);
        Assert.That(output, Does.Contain("lr 0.1, weight decay 0.0001,"));

        info.ArgumentList.Clear();
        info.ArgumentList.Add(CliDll());
        info.ArgumentList.Add("train");
        info.ArgumentList.Add("--frobnicate");
        using var bad = Process.Start(info)!;
        string error = bad.StandardError.ReadToEnd();
        bad.WaitForExit();
        Assert.That(error, Does.StartWith("sharpmax: error: Unrecognized command or argument '--frobnicate'."), "System.CommandLine's messages in the docs' language");
    }

    [TestCase("INT", ExitCodes.Interrupted, null)]
    [TestCase("TERM", ExitCodes.Terminated, null)]
    [TestCase("INT", ExitCodes.Interrupted, "16")] // the MLP (train --hidden 16) stops the same way
    public void A_signal_stops_after_the_batch_and_keeps_the_epochs_done(string signal, int expectedCode, string? hidden)
    {
        Assume.That(OperatingSystem.IsLinux() || OperatingSystem.IsMacOS(), "POSIX signals");
        if (signal == "INT")
            AssumeSigintReachesChildren();
        using var dir = new TempDirectory();
        IdxFixture.WriteDataSet(dir.File("data"), train: 2000, test: 100);
        string output = dir.File("out");
        string[] model = hidden is null ? [] : ["--hidden", hidden];
        using var process = Start(["train", "--data", dir.File("data"), "--out", output, "--device", "cpu", "--epochs", "1000000", "--batch-size", "64", .. model]);
        using var killer = new KillOnDispose(process);
        var stderr = process.StandardError.ReadToEndAsync();
        // Wait for two finished epochs (their table rows), so there is something to keep.
        var lines = new List<string>();
        while (!lines.Any(l => l.TrimStart().StartsWith("2 ", StringComparison.Ordinal)))
        {
            string? line = process.StandardOutput.ReadLine();
            if (line is null)
            {
                Assert.Fail("the run ended before its second epoch: " + stderr.Result);
            }
            lines.Add(line!);
        }
        Signal(process, signal);
        var restOfOutput = process.StandardOutput.ReadToEndAsync();
        Assert.That(process.WaitForExit(60_000), Is.True, "the run stops promptly");
        string rest = restOfOutput.Result;

        Assert.That(process.ExitCode, Is.EqualTo(expectedCode));
        string error = stderr.Result;
        var checkpoint = Checkpoint.Load(Path.Combine(output, "model.ckpt"));
        var metrics = MetricsCsv.Read(Path.Combine(output, MetricsCsv.FileName));
        Assert.That(checkpoint.Layers, Has.Count.EqualTo(model.Length / 2 + 1), "the model trained");
        Assert.That(error, Does.StartWith("sharpmax: interrupted ").And.Contain(FormattableString.Invariant($"model.ckpt keeps epoch {checkpoint.Epoch} ")));
        Assert.That(error.TrimEnd().Split('\n'), Has.Length.EqualTo(1), error);
        Assert.That(error, Does.Not.Contain("   at "));
        Assert.That(checkpoint.Epoch, Is.GreaterThanOrEqualTo(2));
        Assert.That(metrics.Select(m => m.Epoch), Is.EqualTo(Enumerable.Range(1, checkpoint.Epoch)), "metrics.csv and model.ckpt describe the same epochs");
        Assert.That(rest, Does.Not.Contain("done:"));
        string[] names = Directory.GetFiles(output).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray()!;
        Assert.That(names, Is.EqualTo(RunFiles),
            "the pictures for the epochs done, no temporary file, no INCOMPLETE.txt");
    }

    // A second Ctrl-C ends the process at once (docs/errors.md). Whichever point of the first signal's orderly stop
    // it lands in, nothing is torn: model.ckpt is a whole checkpoint of a finished epoch, no temporary file is left,
    // and a folder without INCOMPLETE.txt holds every run file (the orderly stop finished first).
    [Test]
    public void A_second_signal_ends_the_run_at_once_and_leaves_no_torn_or_temporary_file()
    {
        Assume.That(OperatingSystem.IsLinux() || OperatingSystem.IsMacOS(), "POSIX signals");
        AssumeSigintReachesChildren();
        using var dir = new TempDirectory();
        IdxFixture.WriteDataSet(dir.File("data"), train: 2000, test: 100);
        string output = dir.File("out");
        using var process = Start("train", "--data", dir.File("data"), "--out", output, "--device", "cpu", "--epochs", "1000000", "--batch-size", "64");
        using var killer = new KillOnDispose(process);
        var stderr = process.StandardError.ReadToEndAsync();
        string? line;
        do
        {
            line = process.StandardOutput.ReadLine();
            if (line is null)
            {
                Assert.Fail("the run ended before its second epoch: " + stderr.Result);
            }
        }
        while (!line!.TrimStart().StartsWith("2 ", StringComparison.Ordinal));
        // 20 ms apart: two signals sent together can merge into one pending signal (the first's orderly stop
        // alone); 20 ms lands the second inside that stop (the last batch, then the files).
        using (var kill = Process.Start("sh", ["-c", $"kill -INT {process.Id}; sleep 0.02; kill -INT {process.Id}"])!)
        {
            kill.WaitForExit();
            Assert.That(kill.ExitCode, Is.Zero, "kill -INT twice");
        }
        var rest = process.StandardOutput.ReadToEndAsync();
        Assert.That(process.WaitForExit(30_000), Is.True, "the second signal ends the run");

        Assert.That(process.ExitCode, Is.EqualTo(ExitCodes.Interrupted), stderr.Result);
        Assert.That(rest.Result, Does.Not.Contain("done:"));
        var checkpoint = Checkpoint.Load(Path.Combine(output, "model.ckpt"));
        Assert.That(checkpoint.Epoch, Is.GreaterThanOrEqualTo(2), "a whole checkpoint of a finished epoch");
        string[] names = Directory.GetFiles(output).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray()!;
        Assert.That(names.Where(n => n!.EndsWith(".tmp", StringComparison.Ordinal)), Is.Empty, "no temporary file is left");
        if (!names.Contains(RunFolder.IncompleteMarker))
            Assert.That(names, Is.EqualTo(RunFiles), "without INCOMPLETE.txt, the orderly stop finished every file");
    }

    [Test]
    public void A_full_disk_is_a_one_line_error_and_keeps_the_last_good_checkpoint()
    {
        Assume.That(OperatingSystem.IsLinux(), "tmpfs");
        using var dir = new TempDirectory();
        IdxFixture.WriteDataSet(dir.File("data"), train: 200, test: 50);
        string disk = dir.File("disk");
        Directory.CreateDirectory(disk);
        // 48 KiB: the marker, one 31 KB checkpoint and metrics.csv fit; a second checkpoint (written beside the
        // first before the rename) does not.
        using (var mount = Process.Start("mount", $"-t tmpfs -o size=48k sharpmax-test {disk}")!)
        {
            mount.WaitForExit();
            Assume.That(mount.ExitCode, Is.Zero, "this machine does not let the test mount a tmpfs");
        }
        try
        {
            using var process = Start("train", "--data", dir.File("data"), "--out", disk, "--device", "cpu", "--epochs", "3", "--quiet");
            var stderr = process.StandardError.ReadToEndAsync();
            string stdout = process.StandardOutput.ReadToEnd();
            process.WaitForExit();

            string error = stderr.Result;
            Assert.That(process.ExitCode, Is.EqualTo(ExitCodes.BadInput), error);
            Assert.That(error, Does.StartWith($"sharpmax: error: cannot write {disk}/").And.Contain("No space left on device"));
            Assert.That(error, Does.Contain($"{disk}/model.ckpt keeps epoch 1 ").And.EndWith($"INCOMPLETE.txt marks the run unfinished.{Environment.NewLine}"));
            Assert.That(error.TrimEnd().Split('\n'), Has.Length.EqualTo(1), error);
            Assert.That(stdout, Does.Contain("    1 "));
            Assert.That(Checkpoint.Load(Path.Combine(disk, "model.ckpt")).Epoch, Is.EqualTo(1));
            Assert.That(Directory.GetFiles(disk).Select(Path.GetFileName), Has.None.EndsWith(".tmp"), "no temporary file is left");
            Assert.That(File.Exists(Path.Combine(disk, RunFolder.IncompleteMarker)), Is.True);
        }
        finally
        {
            using var umount = Process.Start("umount", disk)!;
            umount.WaitForExit();
        }
    }

    [Test]
    public void A_file_size_limit_is_a_one_line_error_and_keeps_the_last_good_checkpoint()
    {
        Assume.That(OperatingSystem.IsLinux(), "ulimit");
        using var dir = new TempDirectory();
        IdxFixture.WriteDataSet(dir.File("data"), train: 200, test: 50);
        // 40 KiB per file: the checkpoint (31 KB) fits, confusion.png (about 55 KB) does not. SIGXFSZ is ignored so
        // that the write fails with EFBIG instead of killing the process; W^X off because its double mapping
        // sizes a memory file past the limit.
        var info = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add($"trap '' XFSZ; ulimit -f 40; exec dotnet '{CliDll()}' train --data '{dir.File("data")}' --out '{dir.File("out")}' --device cpu --epochs 2 --quiet");
        info.Environment["DOTNET_EnableWriteXorExecute"] = "0";
        using var process = Process.Start(info)!;
        var stderr = process.StandardError.ReadToEndAsync();
        process.StandardOutput.ReadToEnd();
        process.WaitForExit();

        string error = stderr.Result;
        Assert.That(process.ExitCode, Is.EqualTo(ExitCodes.BadInput), error);
        Assert.That(error, Does.StartWith($"sharpmax: error: cannot write {dir.File("out")}/").And.Contain("model.ckpt keeps epoch 2 "));
        Assert.That(error.TrimEnd().Split('\n'), Has.Length.EqualTo(1), error);
        Assert.That(Checkpoint.Load(dir.File("out/model.ckpt")).Epoch, Is.EqualTo(2));
        Assert.That(Directory.GetFiles(dir.File("out")).Select(Path.GetFileName), Has.None.EndsWith(".tmp"));
    }
}
