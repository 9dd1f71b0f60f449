using Sharpmax.Cli.Training;
using static System.FormattableString;

namespace Sharpmax.Cli.Output;

/// <summary>
/// The <c>--out</c> folder of one <c>sharpmax train</c> run, so that a folder always describes one run.
/// </summary>
/// <remarks>
/// Policy (docs/trainer.md): a run starts only in a new or empty folder. With <c>--overwrite</c> it first deletes
/// the files a run writes (<see cref="RunFiles"/>, and temporary files a killed run left) and nothing else.
/// While the run is in progress the folder holds <see cref="IncompleteMarker"/>; it is deleted once the run's
/// files are all written (also after Ctrl-C or divergence, which write the files for the epochs done), so the
/// marker is left only by a run that was killed or could not write its files.
/// </remarks>
public sealed class RunFolder
{
    public const string IncompleteMarker = "INCOMPLETE.txt";

    private readonly string _option;
    private readonly bool _overwrite;

    private RunFolder(string option, string path, bool overwrite)
    {
        _option = option;
        Path = path;
        _overwrite = overwrite;
    }

    /// <summary>The folder's full path.</summary>
    public string Path { get; }

    /// <summary>The names of the files a run writes into its folder.</summary>
    public static IReadOnlyList<string> RunFiles { get; } =
    [
        MetricsCsv.FileName, TrainingRun.CheckpointFileName, CurvesPlot.FileName, MisclassifiedTile.FileName,
        ConfusionMatrix.CsvFileName, ConfusionMatrix.PngFileName, IncompleteMarker,
    ];

    /// <summary>
    /// Checks <c>--out</c> before anything is loaded or trained, without changing anything on disk: a usable path,
    /// not a file, empty unless <paramref name="overwrite"/>, and no run file name taken by a directory.
    /// </summary>
    /// <exception cref="UserErrorException">The folder cannot take this run.</exception>
    public static RunFolder Check(string option, bool overwrite)
    {
        ArgumentNullException.ThrowIfNull(option);
        if (string.IsNullOrWhiteSpace(option))
        {
            throw new UserErrorException("--out was given an empty directory name");
        }
        string full;
        try
        {
            full = System.IO.Path.GetFullPath(option);
        }
        catch (Exception e) when (e is ArgumentException or NotSupportedException or PathTooLongException)
        {
            throw new UserErrorException($"--out {option}: not a usable path: {e.Message}", e);
        }
        if (File.Exists(full))
        {
            throw new UserErrorException($"--out {option} is a file, not a directory");
        }
        var folder = new RunFolder(option, full, overwrite);
        if (!Directory.Exists(full))
        {
            return folder;
        }
        foreach (string name in RunFiles)
        {
            if (Directory.Exists(System.IO.Path.Combine(full, name)))
            {
                throw new UserErrorException($"--out {option}: {name} is a directory, so the run could not write its {name}; move it away or choose another --out");
            }
        }
        var entries = folder.Entries().Where(name => !IsLeftoverTemporary(name)).ToList();
        if (entries.Count > 0 && !overwrite)
        {
            throw new UserErrorException($"--out {option} already holds {Describe(full, entries)}; "
                + "pass --overwrite to replace that run's files, or choose another --out");
        }
        return folder;
    }

    /// <summary>
    /// Creates the folder, deletes a previous run's files (with <c>--overwrite</c>) and temporary files a killed
    /// run left, and writes <see cref="IncompleteMarker"/>, which proves the folder writable before training.
    /// </summary>
    /// <exception cref="UserErrorException">The folder cannot be created, cleaned or written.</exception>
    public void Begin(string description)
    {
        try
        {
            Directory.CreateDirectory(Path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UserErrorException($"--out {_option}: cannot create the output directory: {e.Message}", e);
        }
        try
        {
            foreach (string name in Entries().Where(name => IsLeftoverTemporary(name) || (_overwrite && RunFiles.Contains(name))))
            {
                File.Delete(System.IO.Path.Combine(Path, name));
            }
            AtomicFile.Write(System.IO.Path.Combine(Path, IncompleteMarker), stream =>
            {
                using var writer = new StreamWriter(stream, leaveOpen: true);
                writer.WriteLine("This folder holds a `sharpmax train` run that has not finished writing its files.");
                writer.WriteLine(description);
                writer.WriteLine(Invariant($"Started {DateTime.UtcNow:yyyy-MM-dd HH:mm:ss} UTC, process {Environment.ProcessId}."));
                writer.WriteLine("If this file is still here, the run was killed or could not write its files: model.ckpt and metrics.csv,");
                writer.WriteLine("if present, hold its last finished epoch; the pictures may be missing.");
            });
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UserErrorException($"--out {_option}: the output directory is not writable: {e.Message}", e);
        }
    }

    /// <summary>Deletes <see cref="IncompleteMarker"/>: the run's files are all written.</summary>
    public void Complete() => File.Delete(System.IO.Path.Combine(Path, IncompleteMarker));

    private IEnumerable<string> Entries() =>
        Directory.EnumerateFileSystemEntries(Path).Select(entry => System.IO.Path.GetFileName(entry));

    private static bool IsLeftoverTemporary(string name) => RunFiles.Any(file => AtomicFile.IsTemporaryFor(name, file));

    private static string Describe(string full, List<string> entries)
    {
        string checkpoint = System.IO.Path.Combine(full, TrainingRun.CheckpointFileName);
        if (File.Exists(checkpoint))
        {
            try
            {
                var model = Checkpoint.Load(checkpoint);
                return Invariant($"a run ({TrainingRun.CheckpointFileName}: epoch {model.Epoch}, test accuracy {model.TestAccuracy:P2})");
            }
            catch (CheckpointFormatException)
            {
                // Not readable: describe the folder by its entries instead.
            }
        }
        entries.Sort(StringComparer.Ordinal);
        string shown = string.Join(", ", entries.Take(4)) + (entries.Count > 4 ? ", …" : "");
        return Invariant($"{entries.Count} {(entries.Count == 1 ? "entry" : "entries")} ({shown})");
    }
}
