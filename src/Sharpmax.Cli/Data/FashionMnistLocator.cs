namespace Sharpmax.Cli.Data;

/// <summary>
/// Finds the Fashion-MNIST files: in <c>--data</c> when given, else in <c>$FASHION_MNIST_DIR</c> when set (and
/// only there in both cases: an explicit choice is not second-guessed), else in <c>./data/fashion-mnist</c> and
/// Debian's <c>/usr/share/datasets/fashion-mnist</c>, first match wins.
/// </summary>
public sealed class FashionMnistLocator
{
    public const string EnvironmentVariable = "FASHION_MNIST_DIR";
    public const string LocalDirectory = "data/fashion-mnist";
    public const string DebianDirectory = "/usr/share/datasets/fashion-mnist";

    private readonly string? _environmentDirectory;
    private readonly string _workingDirectory;
    private readonly IReadOnlyList<string> _systemDirectories;

    /// <summary>The locator for this process: its environment and working directory, and Debian's location.</summary>
    public FashionMnistLocator()
        : this(Environment.GetEnvironmentVariable(EnvironmentVariable), Environment.CurrentDirectory, [DebianDirectory])
    {
    }

    /// <summary>A locator with the environment spelled out (for tests).</summary>
    public FashionMnistLocator(string? environmentDirectory, string workingDirectory, IReadOnlyList<string> systemDirectories)
    {
        _environmentDirectory = string.IsNullOrEmpty(environmentDirectory) ? null : environmentDirectory;
        _workingDirectory = workingDirectory;
        _systemDirectories = systemDirectories;
    }

    /// <summary>Where <c>--download</c> puts the files when <c>--data</c> is not given.</summary>
    public string DefaultDownloadDirectory => Path.Combine(_workingDirectory, LocalDirectory);

    /// <summary>Returns the files, or throws <see cref="DataNotFoundException"/> saying where it looked and how to get the data.</summary>
    public FashionMnistFiles Locate(string? dataOption)
    {
        var report = new List<string>();
        if (dataOption is not null)
        {
            if (string.IsNullOrWhiteSpace(dataOption))
            {
                throw new DataNotFoundException("--data was given an empty directory name");
            }
            var files = TryDirectory("--data", dataOption, report);
            return files ?? throw new DataNotFoundException(
                $"--data {dataOption} does not hold Fashion-MNIST:{Environment.NewLine}{Lines(report)}{HowToGet()}");
        }

        if (_environmentDirectory is null)
        {
            report.Add($"  ${EnvironmentVariable}: not set");
        }
        else
        {
            // A directory the user named is an explicit choice too: falling back to another copy would hide a typo.
            var files = TryDirectory($"${EnvironmentVariable}", _environmentDirectory, report);
            return files ?? throw new DataNotFoundException(
                $"${EnvironmentVariable}={_environmentDirectory} does not hold Fashion-MNIST:{Environment.NewLine}{Lines(report)}"
                + $"Unset ${EnvironmentVariable} to search ./{LocalDirectory} and {DebianDirectory}, or fix it.{Environment.NewLine}{HowToGet()}");
        }
        if (TryDirectory($"./{LocalDirectory}", Path.Combine(_workingDirectory, LocalDirectory), report) is { } local)
        {
            return local;
        }
        foreach (string directory in _systemDirectories)
        {
            if (TryDirectory(directory, directory, report) is { } system)
            {
                return system;
            }
        }
        throw new DataNotFoundException(
            $"Fashion-MNIST not found. Looked for {string.Join(", ", FashionMnistFiles.Names.Select(n => n + "[.gz]"))} in:"
            + $"{Environment.NewLine}{Lines(report)}{HowToGet()}");
    }

    private static FashionMnistFiles? TryDirectory(string label, string directory, List<string> report)
    {
        string shown = label == directory ? directory : $"{label} ({Path.GetFullPath(directory)})";
        if (!Directory.Exists(directory))
        {
            report.Add($"  {shown}: no such directory");
            return null;
        }
        var files = FashionMnistFiles.TryFind(directory, out var problems);
        if (files is null)
        {
            report.Add($"  {shown}: {string.Join("; ", problems)}");
        }
        return files;
    }

    private static string Lines(List<string> lines) => string.Concat(lines.Select(line => line + Environment.NewLine));

    private static string HowToGet() =>
        "Get the data with one of:" + Environment.NewLine
        + $"  sudo apt-get install dataset-fashion-mnist   (Debian/Ubuntu; installs to {DebianDirectory})" + Environment.NewLine
        + $"  sharpmax train --download                    (fetches the four files into ./{LocalDirectory}, or into --data DIR)" + Environment.NewLine
        + $"  or point --data DIR or ${EnvironmentVariable} at a directory holding them.";
}
