using System.Runtime.CompilerServices;
using NUnit.Framework;

namespace Sharpmax.Tests.Embedding;

/// <summary>The Sharpmax source tree these tests were built from: its root, kernels and native build output.</summary>
internal static class SourceTree
{
    /// <summary>The folder holding Sharpmax.slnx above the test binaries or this source file; null outside a source tree.</summary>
    public static string? Root([CallerFilePath] string sourceFile = "")
    {
        foreach (var start in new[] { TestContext.CurrentContext.TestDirectory, Path.GetDirectoryName(sourceFile) })
        {
            for (var dir = string.IsNullOrEmpty(start) ? null : new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "Sharpmax.slnx")))
                    return dir.FullName;
            }
        }
        return null;
    }

    /// <summary>The kernel files' names without extension (kernels/*.cu): one PTX file each.</summary>
    public static string[] KernelNames(string root) =>
        Directory.GetFiles(Path.Combine(root, "kernels"), "*.cu").Select(Path.GetFileNameWithoutExtension).OfType<string>()
            .Order(StringComparer.Ordinal).ToArray();

    /// <summary>Whether a CUDA compiler (nvcc) is on PATH, so the build makes PTX.</summary>
    public static bool NvccOnPath() =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Any(dir => File.Exists(Path.Combine(dir, "nvcc")) || File.Exists(Path.Combine(dir, "nvcc.exe")));
}
