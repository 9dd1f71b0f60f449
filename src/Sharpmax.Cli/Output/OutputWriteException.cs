namespace Sharpmax.Cli.Output;

/// <summary>A file of the run could not be written (disk full, a directory in its place, no permission).</summary>
public sealed class OutputWriteException : UserErrorException
{
    public OutputWriteException() { }
    public OutputWriteException(string message) : base(message) { }
    public OutputWriteException(string message, Exception innerException) : base(message, innerException) { }

    /// <summary>Runs <paramref name="write"/> on <paramref name="path"/>, turning an I/O failure into this exception.</summary>
    public static void Guard(string path, Action<string> write)
    {
        ArgumentNullException.ThrowIfNull(write);
        try
        {
            write(path);
        }
        // A file-size limit (EFBIG, `ulimit -f`) reaches .NET's FileStream as ArgumentOutOfRangeException.
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentOutOfRangeException)
        {
            throw new OutputWriteException($"cannot write {path}: {e.Message}", e);
        }
    }
}
