using System.Collections.Concurrent;

namespace Sharpmax.Cli.Output;

/// <summary>
/// Writes a file so that readers see either the old content or the complete new one: the bytes go to a
/// temporary file in the same directory (so the rename stays on one file system), are flushed to disk,
/// and the temporary file is then renamed over the target.
/// </summary>
public static class AtomicFile
{
    // The temporary files being written now, so that a process about to be killed can delete them.
    private static readonly ConcurrentDictionary<string, byte> InFlight = new();

    public static void Write(string path, Action<Stream> write)
    {
        ArgumentNullException.ThrowIfNull(write);
        string full = Path.GetFullPath(path);
        string temporary = Path.Combine(Path.GetDirectoryName(full)!, $"{TemporaryPrefix(Path.GetFileName(full))}{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        InFlight[temporary] = 0;
        try
        {
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temporary, full, overwrite: true);
        }
        finally
        {
            File.Delete(temporary);
            InFlight.TryRemove(temporary, out _);
        }
    }

    /// <summary>How the temporary files for <paramref name="fileName"/> begin: <c>.NAME.</c> (then pid, a GUID, <c>.tmp</c>).</summary>
    public static string TemporaryPrefix(string fileName) => $".{fileName}.";

    /// <summary>Whether <paramref name="entryName"/> is a temporary file <see cref="Write"/> made for <paramref name="fileName"/>.</summary>
    public static bool IsTemporaryFor(string entryName, string fileName)
    {
        ArgumentNullException.ThrowIfNull(entryName);
        return entryName.StartsWith(TemporaryPrefix(fileName), StringComparison.Ordinal) && entryName.EndsWith(".tmp", StringComparison.Ordinal);
    }

    /// <summary>Deletes the temporary files of writes still in progress (for a process that is about to be killed).</summary>
    public static void DeleteInFlight()
    {
        foreach (string temporary in InFlight.Keys)
        {
            try
            {
                File.Delete(temporary);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // The process is ending anyway; the next run into this folder removes what is left.
            }
        }
    }
}
