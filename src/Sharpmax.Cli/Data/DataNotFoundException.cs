namespace Sharpmax.Cli.Data;

/// <summary>No searched directory holds the four Fashion-MNIST files; the message lists the places and how to get the data.</summary>
public sealed class DataNotFoundException : UserErrorException
{
    public DataNotFoundException() { }
    public DataNotFoundException(string message) : base(message) { }
    public DataNotFoundException(string message, Exception innerException) : base(message, innerException) { }
}
