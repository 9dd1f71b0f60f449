using System.Runtime.InteropServices;

namespace Sharpmax.Interop;

/// <summary>Finds and opens the native libraries by their file names; handles stay open for the process.</summary>
internal static class NativeLibraries
{
    /// <summary>Opens the first of <paramref name="names"/> that loads, trying beside the assembly first, then the
    /// default probing. Returns false and a sentence naming what was tried when none loads.</summary>
    public static bool TryOpen(IReadOnlyList<string> names, out nint handle, out string loadedName, out string failure)
    {
        var tried = new List<string>();
        foreach (var name in names)
        {
            var besideAssembly = Path.Combine(AppContext.BaseDirectory, name);
            if (File.Exists(besideAssembly) && NativeLibrary.TryLoad(besideAssembly, out handle))
            {
                loadedName = besideAssembly;
                failure = "";
                return true;
            }

            if (NativeLibrary.TryLoad(name, typeof(NativeLibraries).Assembly, DllImportSearchPath.SafeDirectories | DllImportSearchPath.AssemblyDirectory, out handle))
            {
                loadedName = name;
                failure = "";
                return true;
            }

            tried.Add(name);
        }

        handle = 0;
        loadedName = "";
        failure = $"could not load {string.Join(" or ", tried)} (looked in {AppContext.BaseDirectory} and the default library search path)";
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
