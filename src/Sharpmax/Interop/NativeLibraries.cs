using System.Runtime.InteropServices;

namespace Sharpmax.Interop;

/// <summary>Where <see cref="NativeLibraries.TryOpen(IReadOnlyList{string}, LibraryResolver, out nint, out string, out string)"/>
/// looks: the real file system and loader by default; tests pass a fake one.</summary>
internal class LibraryResolver
{
    /// <summary>The operating system's loader, trying beside the assembly first.</summary>
    public static readonly LibraryResolver Default = new();

    /// <summary>The folder searched before the default search path (the application's).</summary>
    public virtual string Directory => AppContext.BaseDirectory;

    /// <summary>Whether a file exists at <paramref name="path"/>.</summary>
    public virtual bool FileExists(string path) => File.Exists(path);

    /// <summary>Loads the library at <paramref name="path"/>; throws DllNotFoundException or BadImageFormatException.</summary>
    public virtual nint LoadFile(string path) => NativeLibrary.Load(path);

    /// <summary>Loads <paramref name="name"/> from the default search path, or returns false.</summary>
    public virtual bool TryLoadByName(string name, out nint handle) =>
        NativeLibrary.TryLoad(name, typeof(NativeLibraries).Assembly, DllImportSearchPath.SafeDirectories | DllImportSearchPath.AssemblyDirectory, out handle);
}

/// <summary>Finds and opens the native libraries by their file names; handles stay open for the process.</summary>
internal static class NativeLibraries
{
    /// <summary>Opens the first of <paramref name="names"/> that loads, trying beside the assembly first, then the
    /// default probing. Returns false and a sentence naming what was tried (and why a present file failed).</summary>
    public static bool TryOpen(IReadOnlyList<string> names, out nint handle, out string loadedName, out string failure) =>
        TryOpen(names, LibraryResolver.Default, out handle, out loadedName, out failure);

    /// <summary>As <see cref="TryOpen(IReadOnlyList{string}, out nint, out string, out string)"/>, looking through
    /// <paramref name="resolver"/>.</summary>
    public static bool TryOpen(IReadOnlyList<string> names, LibraryResolver resolver, out nint handle, out string loadedName, out string failure)
    {
        var problems = new List<string>();
        foreach (var name in names)
        {
            var besideAssembly = Path.Combine(resolver.Directory, name);
            bool present = resolver.FileExists(besideAssembly);
            if (present)
            {
                try
                {
                    handle = resolver.LoadFile(besideAssembly);
                    loadedName = besideAssembly;
                    failure = "";
                    return true;
                }
                catch (Exception e) when (e is DllNotFoundException or BadImageFormatException)
                {
                    // The file is there but does not load (a missing dependency, a wrong architecture…): say so.
                    problems.Add($"{besideAssembly} exists but does not load: {e.Message}");
                }
            }

            if (resolver.TryLoadByName(name, out handle))
            {
                loadedName = name;
                failure = "";
                return true;
            }

            problems.Add(present
                ? $"no other {name} on the default library search path"
                : $"{name} is not in {resolver.Directory} nor on the default library search path");
        }

        handle = 0;
        loadedName = "";
        failure = string.Join("; ", problems);
        return false;
    }

    /// <summary>The address of an export; throws naming the library and the symbol when it is missing.</summary>
    public static nint Export(nint library, string libraryName, string symbol)
    {
        if (NativeLibrary.TryGetExport(library, symbol, out var address))
            return address;
        throw new EntryPointNotFoundException($"{libraryName} has no export named {symbol}.");
    }
}
