namespace Sharpmax;

/// <summary>
/// The requested device cannot be opened here: no NVIDIA driver, no GPU, no embedded PTX, or no host library.
/// The message says which.
/// </summary>
public sealed class DeviceUnavailableException : Exception
{
    /// <summary>Creates the exception with a default message.</summary>
    public DeviceUnavailableException()
        : this("The device is not available.")
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">Which device and why it cannot be opened.</param>
    public DeviceUnavailableException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with its cause.</summary>
    /// <param name="message">Which device and why it cannot be opened.</param>
    /// <param name="innerException">The cause.</param>
    public DeviceUnavailableException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
