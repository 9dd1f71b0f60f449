namespace Sharpmax.Cli;

/// <summary>
/// An error the user can fix (a missing or malformed file, a bad option value). The CLI prints its
/// message on stderr, without a stack trace, and exits with <see cref="ExitCodes.BadInput"/>.
/// </summary>
public class UserErrorException : Exception
{
    public UserErrorException() { }
    public UserErrorException(string message) : base(message) { }
    public UserErrorException(string message, Exception? innerException) : base(message, innerException) { }
}
