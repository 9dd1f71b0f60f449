namespace Sharpmax.Cli.Data;

/// <summary>A download failed (network error, HTTP status, checksum mismatch, corrupt file); nothing was written.</summary>
public sealed class DownloadException : UserErrorException
{
    public DownloadException() { }
    public DownloadException(string message) : base(message) { }
    public DownloadException(string message, Exception innerException) : base(message, innerException) { }
}
