using System.Text;
using System.Text.RegularExpressions;

namespace Sharpmax;

/// <summary>One PTX file embedded in the assembly (logical name <c>ptx/&lt;file&gt;.ptx</c>).</summary>
/// <param name="ResourceName">The logical resource name.</param>
/// <param name="Image">The PTX text followed by the NUL byte cuModuleLoadDataEx needs.</param>
/// <param name="Entries">The kernel names declared by its <c>.entry</c> lines, in file order.</param>
internal sealed record PtxImage(string ResourceName, byte[] Image, IReadOnlyList<string> Entries);

/// <summary>The PTX embedded in this assembly, read once.</summary>
internal static partial class PtxImages
{
    private static readonly Lazy<IReadOnlyList<PtxImage>> Embedded = new(ReadEmbedded);

    public static IReadOnlyList<PtxImage> All => Embedded.Value;

    /// <summary>The names declared by the <c>.entry</c> lines of a PTX text.</summary>
    public static IReadOnlyList<string> ParseEntries(string ptx) =>
        EntryLine().Matches(ptx).Select(match => match.Groups["name"].Value).ToArray();

    private static List<PtxImage> ReadEmbedded()
    {
        var assembly = typeof(PtxImages).Assembly;
        var images = new List<PtxImage>();
        foreach (var name in assembly.GetManifestResourceNames().Order(StringComparer.Ordinal))
        {
            if (!name.StartsWith("ptx/", StringComparison.Ordinal) || !name.EndsWith(".ptx", StringComparison.Ordinal))
                continue;
            using var stream = assembly.GetManifestResourceStream(name)
                ?? throw new InvalidOperationException($"Embedded resource {name} is listed but cannot be opened.");
            var bytes = new byte[stream.Length + 1];  // the extra byte stays 0: the terminating NUL
            stream.ReadExactly(bytes, 0, (int)stream.Length);
            var text = Encoding.UTF8.GetString(bytes, 0, bytes.Length - 1);
            images.Add(new PtxImage(name, bytes, ParseEntries(text)));
        }

        return images;
    }

    // PTX declares a kernel as ".visible .entry name(" (".weak"/".extern" are possible linkages).
    [GeneratedRegex(@"^\s*(?:\.(?:visible|weak|extern)\s+)*\.entry\s+(?<name>[A-Za-z_$%][\w$]*)", RegexOptions.Multiline)]
    private static partial Regex EntryLine();
}
