using System.Runtime.InteropServices;

namespace Sharpmax.Interop;

/// <summary>Finds and opens the native libraries by their file names; handles stay open for the process.</summary>
internal static class NativeLibraries
{
    /// <summary>Opens the first of <paramref name="names"/> that loads, trying beside the assembly first, then the
    /// default probing. Returns false and a sentence naming what was tried (and why a present file failed).</summary>
    public static bool TryOpen(IReadOnlyList<string> names, out nint handle, out string loadedName, out string failure)
    {
        var problems = new List<string>();
        foreach (var name in names)
        {
            var besideAssembly = Path.Combine(AppContext.BaseDirectory, name);
            if (File.Exists(besideAssembly))
            {
                try
                {
                    handle = NativeLibrary.Load(besideAssembly);
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

            if (NativeLibrary.TryLoad(name, typeof(NativeLibraries).Assembly, DllImportSearchPath.SafeDirectories | DllImportSearchPath.AssemblyDirectory, out handle))
            {
                loadedName = name;
                failure = "";
                return true;
            }

            problems.Add(File.Exists(besideAssembly)
                ? $"no other {name} on the default library search path"
                : $"{name} is not in {AppContext.BaseDirectory} nor on the default library search path");
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
