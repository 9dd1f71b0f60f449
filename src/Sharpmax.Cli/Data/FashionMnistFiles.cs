namespace Sharpmax.Cli.Data;

/// <summary>The four Fashion-MNIST files of one directory, each found as <c>NAME.gz</c> or raw <c>NAME</c>.</summary>
public sealed record FashionMnistFiles(string TrainImages, string TrainLabels, string TestImages, string TestLabels)
{
    public const string TrainImagesName = "train-images-idx3-ubyte";
    public const string TrainLabelsName = "train-labels-idx1-ubyte";
    public const string TestImagesName = "t10k-images-idx3-ubyte";
    public const string TestLabelsName = "t10k-labels-idx1-ubyte";

    /// <summary>The base names (without <c>.gz</c>) in download order.</summary>
    public static IReadOnlyList<string> Names { get; } = [TrainImagesName, TrainLabelsName, TestImagesName, TestLabelsName];

    /// <summary>
    /// Finds the four files in <paramref name="directory"/>, preferring <c>.gz</c>; null otherwise, with one phrase
    /// per problem ("missing NAME[.gz]", "NAME.gz is a directory, not a file").
    /// </summary>
    public static FashionMnistFiles? TryFind(string directory, out IReadOnlyList<string> problems)
    {
        var found = new string?[Names.Count];
        var missing = new List<string>();
        var directories = new List<string>();
        for (int i = 0; i < Names.Count; i++)
        {
            string gz = Path.Combine(directory, Names[i] + ".gz");
            string raw = Path.Combine(directory, Names[i]);
            found[i] = File.Exists(gz) ? gz : File.Exists(raw) ? raw : null;
            if (found[i] is null)
            {
                string? folder = Directory.Exists(gz) ? gz : Directory.Exists(raw) ? raw : null;
                if (folder is null)
                {
                    missing.Add(Names[i] + "[.gz]");
                }
                else
                {
                    directories.Add($"{Path.GetFileName(folder)} is a directory, not a file");
                }
            }
        }
        var all = new List<string>();
        if (missing.Count > 0)
        {
            all.Add($"missing {string.Join(", ", missing)}");
        }
        all.AddRange(directories);
        problems = all;
        return all.Count == 0 ? new FashionMnistFiles(found[0]!, found[1]!, found[2]!, found[3]!) : null;
    }
}
