namespace Sharpmax.Interop;

/// <summary>
/// The few cuBLAS functions the GPU baseline needs (cublas_api.h). cuBLAS runs in the current context, which is
/// the primary context the Device made current. Status codes: 0 is CUBLAS_STATUS_SUCCESS.
/// </summary>
internal sealed unsafe class CublasApi
{
    public const int OperationNone = 0;      // CUBLAS_OP_N
    public const int OperationTranspose = 1; // CUBLAS_OP_T

    private static readonly Lazy<(CublasApi? Api, string Failure)> Shared = new(Open);

    public required string LibraryName { get; init; }

    public delegate* unmanaged<nint*, int> cublasCreate_v2;
    public delegate* unmanaged<nint, int> cublasDestroy_v2;

    // (handle, transa, transb, m, n, k, alpha*, A, lda, B, ldb, beta*, C, ldc); matrices are column-major.
    public delegate* unmanaged<nint, int, int, int, int, int, float*, ulong, int, ulong, int, float*, ulong, int, int> cublasSgemm_v2;

    /// <summary>The cuBLAS table, or null and why not.</summary>
    public static CublasApi? TryLoad(out string failure)
    {
        failure = Shared.Value.Failure;
        return Shared.Value.Api;
    }

    /// <summary>Throws naming the call and the status when a cuBLAS call failed.</summary>
    public static void Check(int status, [System.Runtime.CompilerServices.CallerArgumentExpression(nameof(status))] string call = "")
    {
        if (status != 0)
            throw new InvalidOperationException($"{call} failed: {StatusName(status)} ({status}).");
    }

    private static string StatusName(int status) => status switch
    {
        1 => "CUBLAS_STATUS_NOT_INITIALIZED",
        3 => "CUBLAS_STATUS_ALLOC_FAILED",
        7 => "CUBLAS_STATUS_INVALID_VALUE",
        8 => "CUBLAS_STATUS_ARCH_MISMATCH",
        11 => "CUBLAS_STATUS_MAPPING_ERROR",
        13 => "CUBLAS_STATUS_EXECUTION_FAILED",
        14 => "CUBLAS_STATUS_INTERNAL_ERROR",
        15 => "CUBLAS_STATUS_NOT_SUPPORTED",
        16 => "CUBLAS_STATUS_LICENSE_ERROR",
        _ => "unknown cuBLAS status",
    };

    /// <summary>The file names tried, newest major version first (CUDA 13, 12, 11): a machine with several
    /// toolkits gets the one matching its newest driver. Versioned names, because the unversioned links ship
    /// only with the development packages.</summary>
    public static IReadOnlyList<string> CandidateNames(bool windows) => windows
        ? ["cublas64_13.dll", "cublas64_12.dll", "cublas64_11.dll"]
        : ["libcublas.so.13", "libcublas.so.12", "libcublas.so.11"];

    /// <summary>Opens the first candidate that <paramref name="resolver"/> loads: its handle and name, or false and
    /// the sentence naming every file tried.</summary>
    public static bool TryOpenLibrary(LibraryResolver resolver, bool windows, out nint handle, out string loadedName, out string failure) =>
        NativeLibraries.TryOpen(CandidateNames(windows), resolver, out handle, out loadedName, out failure);

    private static (CublasApi?, string) Open()
    {
        if (!TryOpenLibrary(LibraryResolver.Default, OperatingSystem.IsWindows(), out var handle, out var loadedName, out var failure))
            return (null, failure);
        try
        {
            return (new CublasApi
            {
                LibraryName = loadedName,
                cublasCreate_v2 = (delegate* unmanaged<nint*, int>)NativeLibraries.Export(handle, loadedName, "cublasCreate_v2"),
                cublasDestroy_v2 = (delegate* unmanaged<nint, int>)NativeLibraries.Export(handle, loadedName, "cublasDestroy_v2"),
                cublasSgemm_v2 = (delegate* unmanaged<nint, int, int, int, int, int, float*, ulong, int, ulong, int, float*, ulong, int, int>)
                    NativeLibraries.Export(handle, loadedName, "cublasSgemm_v2"),
            }, "");
        }
        catch (EntryPointNotFoundException e)
        {
            return (null, e.Message);
        }
    }
}
