namespace Sharpmax;

/// <summary>
/// A CUDA driver call (or its CPU-device twin) failed. The message names the error (CUDA_ERROR_…), the driver's
/// sentence for it, the failing call as written in the source and, on the CPU device, the runtime's detail.
/// A rejected launch names the kernel, grid, block and shared memory in <see cref="Call"/>. A kernel that faults on a
/// GPU is reported by the next call that waits for the device (a copy to the host, a synchronize), so
/// <see cref="Call"/> is that call, not the launch, and the context stays broken: every later call fails the same
/// way. Turn on <see cref="Device.LaunchBlocking"/> (or SHARPMAX_LAUNCH_BLOCKING=1) to have each launch wait, and
/// the fault name its kernel.
/// </summary>
public sealed class CudaException : Exception
{
    /// <summary>Creates an exception with a message only (no CUDA code: <see cref="Code"/> is CUDA_ERROR_UNKNOWN).</summary>
    public CudaException()
        : this("A CUDA call failed.")
    {
    }

    /// <summary>Creates an exception with a message only (no CUDA code: <see cref="Code"/> is CUDA_ERROR_UNKNOWN).</summary>
    /// <param name="message">What failed.</param>
    public CudaException(string message)
        : this(message, innerException: null)
    {
    }

    /// <summary>Creates an exception with a message and a cause (no CUDA code: <see cref="Code"/> is CUDA_ERROR_UNKNOWN).</summary>
    /// <param name="message">What failed.</param>
    /// <param name="innerException">The cause.</param>
    public CudaException(string message, Exception? innerException)
        : base(message, innerException)
    {
        Code = (int)CudaError.Unknown;
        ErrorName = "CUDA_ERROR_UNKNOWN";
        Call = "";
        Detail = "";
    }

    internal CudaException(int code, string errorName, string errorText, string call, string detail)
        : base(Compose(code, errorName, errorText, call, detail))
    {
        Code = code;
        ErrorName = errorName;
        Call = call;
        Detail = detail;
    }

    /// <summary>The CUresult value returned by the failing call.</summary>
    public int Code { get; }

    /// <summary><see cref="Code"/> as a <see cref="CudaError"/> (a value outside the enum when Sharpmax does not name it).</summary>
    public CudaError Error => (CudaError)Code;

    /// <summary>The error's name as the driver spells it, for example CUDA_ERROR_INVALID_VALUE.</summary>
    public string ErrorName { get; }

    /// <summary>The failing call as written in the Sharpmax source, for example <c>cuMemAlloc_v2(&amp;pointer, bytes)</c>.</summary>
    public string Call { get; }

    /// <summary>On the CPU device, the runtime's sentence about the failure (which entry, which limit); otherwise "".</summary>
    public string Detail { get; }

    private static string Compose(int code, string errorName, string errorText, string call, string detail)
    {
        var message = $"{errorName} ({code}): {errorText} — in {call}";
        return detail.Length == 0 ? message : $"{message}. {detail}";
    }
}
