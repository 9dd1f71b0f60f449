namespace Sharpmax.Cli.Output;

/// <summary>A checkpoint file that cannot be read; the message names the file and what is wrong.</summary>
public sealed class CheckpointFormatException : UserErrorException
{
    public CheckpointFormatException() { }
    public CheckpointFormatException(string message) : base(message) { }
    public CheckpointFormatException(string message, Exception innerException) : base(message, innerException) { }
}
