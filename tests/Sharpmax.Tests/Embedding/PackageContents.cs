using System.IO.Compression;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;

namespace Sharpmax.Tests.Embedding;

/// <summary>What a Sharpmax .nupkg holds: its file entries and the resources embedded in its Sharpmax.dll.</summary>
internal static class PackageContents
{
    /// <summary>The package's file entries, sorted.</summary>
    public static string[] Entries(string package)
    {
        using var zip = ZipFile.OpenRead(package);
        return zip.Entries.Select(entry => entry.FullName).Order(StringComparer.Ordinal).ToArray();
    }

    /// <summary>The manifest resource names of lib/net10.0/Sharpmax.dll, read from its metadata (the assembly is not loaded).</summary>
    public static string[] EmbeddedResources(string package)
    {
        using var zip = ZipFile.OpenRead(package);
        var entry = zip.GetEntry("lib/net10.0/Sharpmax.dll") ?? throw new InvalidDataException($"{package} has no lib/net10.0/Sharpmax.dll");
        using var bytes = new MemoryStream();
        using (var stream = entry.Open())
            stream.CopyTo(bytes);
        bytes.Position = 0;
        using var pe = new PEReader(bytes);
        var metadata = pe.GetMetadataReader();
        return metadata.ManifestResources.Select(handle => metadata.GetString(metadata.GetManifestResource(handle).Name))
            .Order(StringComparer.Ordinal).ToArray();
    }
}
