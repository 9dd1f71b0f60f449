namespace Sharpmax.Cli.Data;

/// <summary>An IDX file that is not what it should be; the message names the file and the problem.</summary>
public sealed class IdxFormatException : UserErrorException
{
    public IdxFormatException() { }
    public IdxFormatException(string message) : base(message) { }
    public IdxFormatException(string message, Exception innerException) : base(message, innerException) { }

    public IdxFormatException(string path, string problem, Exception? innerException = null)
        : base($"{path}: {problem}", innerException)
    {
        Path = path;
    }

    /// <summary>The file at fault.</summary>
    public string? Path { get; }
}
