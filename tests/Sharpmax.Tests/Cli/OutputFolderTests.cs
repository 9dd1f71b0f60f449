using NUnit.Framework;
using Sharpmax.Cli;
using Sharpmax.Cli.Output;
using Sharpmax.Cli.Training;

namespace Sharpmax.Tests.Cli;

/// <summary>The --out policy: a run goes into a new or empty folder, or replaces an earlier run's files with --overwrite.</summary>
public class OutputFolderTests
{
    private static (int Code, string Out, string Error) Train(string data, string output, params string[] more) =>
        CliRunner.Run(["train", "--data", data, "--out", output, "--device", "cpu", "--batch-size", "16", .. more]);

    private static string[] Names(string directory) =>
        Directory.EnumerateFileSystemEntries(directory).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray()!;

    private static readonly string[] RunFiles =
        ["confusion.csv", "confusion.png", "curves.png", "metrics.csv", "misclassified.png", "model.ckpt"];

    [Test]
    public void A_second_run_into_the_same_folder_is_refused_and_changes_nothing()
    {
        using var dir = new TempDirectory();
        IdxFixture.WriteDataSet(dir.File("data"), train: 40, test: 20);
        Assert.That(Train(dir.File("data"), dir.File("out"), "--epochs", "3").Code, Is.Zero);
        var before = RunFiles.ToDictionary(name => name, name => File.ReadAllBytes(Path.Combine(dir.File("out"), name)));
        var model = Checkpoint.Load(Path.Combine(dir.File("out"), "model.ckpt"));

        var (code, output, error) = Train(dir.File("data"), dir.File("out"), "--epochs", "1");

        Assert.That(code, Is.EqualTo(ExitCodes.BadInput));
        Assert.That(error, Is.EqualTo(FormattableString.Invariant(
            $"sharpmax: error: --out {dir.File("out")} already holds a run (model.ckpt: epoch 3, test accuracy {model.TestAccuracy:P2}); pass --overwrite to replace that run's files, or choose another --out") + Environment.NewLine));
        Assert.That(output, Does.Not.Contain("epoch  train loss"), "refused before training");
        Assert.That(Names(dir.File("out")), Is.EqualTo(RunFiles));
        foreach (var (name, bytes) in before)
        {
            Assert.That(File.ReadAllBytes(Path.Combine(dir.File("out"), name)), Is.EqualTo(bytes), name);
        }
    }

    [Test]
    public void Overwrite_replaces_the_earlier_run_and_keeps_other_files()
    {
        using var dir = new TempDirectory();
        IdxFixture.WriteDataSet(dir.File("data"), train: 40, test: 20);
        Assert.That(Train(dir.File("data"), dir.File("out"), "--epochs", "3").Code, Is.Zero);
        File.WriteAllText(dir.File("out/notes.txt"), "mine");

        var (code, _, error) = Train(dir.File("data"), dir.File("out"), "--epochs", "1", "--overwrite");

        Assert.That(code, Is.Zero, error);
        Assert.That(Names(dir.File("out")), Is.EqualTo(RunFiles.Append("notes.txt").Order(StringComparer.Ordinal)));
        Assert.That(MetricsCsv.Read(dir.File("out/metrics.csv")), Has.Count.EqualTo(1), "only the new run's epoch");
        Assert.That(Checkpoint.Load(dir.File("out/model.ckpt")).Epoch, Is.EqualTo(1));
        Assert.That(File.ReadAllText(dir.File("out/notes.txt")), Is.EqualTo("mine"));
    }

    [Test]
    public void A_folder_with_other_files_is_refused_without_overwrite()
    {
        using var dir = new TempDirectory();
        IdxFixture.WriteDataSet(dir.File("data"), train: 20, test: 10);
        Directory.CreateDirectory(dir.File("out"));
        File.WriteAllText(dir.File("out/b.txt"), "");
        File.WriteAllText(dir.File("out/a.txt"), "");
        var (code, _, error) = Train(dir.File("data"), dir.File("out"), "--epochs", "1");
        Assert.That(code, Is.EqualTo(ExitCodes.BadInput));
        Assert.That(error, Does.StartWith($"sharpmax: error: --out {dir.File("out")} already holds 2 entries (a.txt, b.txt); pass --overwrite"));
    }

    [Test]
    public void Temporary_files_a_killed_run_left_are_removed_and_do_not_count()
    {
        using var dir = new TempDirectory();
        IdxFixture.WriteDataSet(dir.File("data"), train: 20, test: 10);
        Directory.CreateDirectory(dir.File("out"));
        File.WriteAllText(dir.File("out/.model.ckpt.4242.0123456789abcdef0123456789abcdef.tmp"), "half a checkpoint");
        var (code, _, error) = Train(dir.File("data"), dir.File("out"), "--epochs", "1");
        Assert.That(code, Is.Zero, error);
        Assert.That(Names(dir.File("out")), Is.EqualTo(RunFiles));
    }

    [TestCase("model.ckpt")]
    [TestCase("curves.png")]
    [TestCase("metrics.csv")]
    public void A_directory_in_place_of_an_output_file_fails_before_training(string name)
    {
        using var dir = new TempDirectory();
        IdxFixture.WriteDataSet(dir.File("data"), train: 20, test: 10);
        Directory.CreateDirectory(Path.Combine(dir.File("out"), name));
        var (code, output, error) = Train(dir.File("data"), dir.File("out"), "--epochs", "1", "--overwrite");
        Assert.That(code, Is.EqualTo(ExitCodes.BadInput));
        Assert.That(error, Is.EqualTo($"sharpmax: error: --out {dir.File("out")}: {name} is a directory, so the run could not write its {name}; move it away or choose another --out" + Environment.NewLine));
        Assert.That(output, Is.Empty, "found before the data is loaded");
    }

    [Test]
    public void An_empty_or_file_out_is_a_one_line_error()
    {
        using var dir = new TempDirectory();
        IdxFixture.WriteDataSet(dir.File("data"), train: 20, test: 10);
        File.WriteAllText(dir.File("file"), "");
        var empty = Train(dir.File("data"), "", "--epochs", "1");
        Assert.That((empty.Code, empty.Error), Is.EqualTo((ExitCodes.BadInput, "sharpmax: error: --out was given an empty directory name" + Environment.NewLine)));
        var file = Train(dir.File("data"), dir.File("file"), "--epochs", "1");
        Assert.That((file.Code, file.Error), Is.EqualTo((ExitCodes.BadInput, $"sharpmax: error: --out {dir.File("file")} is a file, not a directory" + Environment.NewLine)));
    }

    [Test]
    public void A_finished_run_leaves_no_incomplete_marker_and_a_diverged_one_writes_its_epochs()
    {
        using var dir = new TempDirectory();
        IdxFixture.WriteDataSet(dir.File("data"), train: 100, test: 30);
        // lr 1e38 overflows the weights in the first steps: no epoch finishes, nothing is written.
        var (code, _, error) = Train(dir.File("data"), dir.File("out"), "--epochs", "2", "--lr", "1e38");
        Assert.That(code, Is.EqualTo(ExitCodes.Diverged));
        Assert.That(error, Does.EndWith("This run finished no epoch, so it wrote no checkpoint." + Environment.NewLine));
        Assert.That(Names(dir.File("out")), Is.Empty, "no marker, no files: the folder describes no run");
    }

    [Test]
    public void The_marker_says_a_run_is_in_progress()
    {
        using var dir = new TempDirectory();
        var folder = RunFolder.Check(dir.File("out"), overwrite: false);
        folder.Begin("recipe: test");
        Assert.That(File.ReadAllText(dir.File($"out/{RunFolder.IncompleteMarker}")), Does.Contain("has not finished").And.Contain("recipe: test"));
        folder.Complete();
        Assert.That(Names(dir.File("out")), Is.Empty);
        Assert.That(TrainingRun.CheckpointFileName, Is.EqualTo("model.ckpt"));
    }
}
