namespace Sharpmax.Interop;

/// <summary>
/// <c>cblas_sgemm</c> from OpenBLAS (Debian libopenblas0, 32-bit blasint): the CPU baseline of the bench.
/// </summary>
internal sealed unsafe class OpenBlas
{
    public const int RowMajor = 101;   // CblasRowMajor
    public const int NoTrans = 111;    // CblasNoTrans
    public const int Trans = 112;      // CblasTrans

    private static readonly Lazy<(OpenBlas? Api, string Failure)> Shared = new(Open);

    public required string LibraryName { get; init; }

    // (order, transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc)
    public delegate* unmanaged<int, int, int, int, int, int, float, float*, int, float*, int, float, float*, int, void> cblas_sgemm;

    /// <summary>The OpenBLAS table, or null and why not.</summary>
    public static OpenBlas? TryLoad(out string failure)
    {
        failure = Shared.Value.Failure;
        return Shared.Value.Api;
    }

    private static (OpenBlas?, string) Open()
    {
        string[] names = OperatingSystem.IsWindows() ? ["libopenblas.dll", "openblas.dll"] : ["libopenblas.so.0", "libopenblas.so"];
        if (!NativeLibraries.TryOpen(names, out var handle, out var loadedName, out var failure))
            return (null, failure);
        try
        {
            return (new OpenBlas
            {
                LibraryName = loadedName,
                cblas_sgemm = (delegate* unmanaged<int, int, int, int, int, int, float, float*, int, float*, int, float, float*, int, void>)
                    NativeLibraries.Export(handle, loadedName, "cblas_sgemm"),
            }, "");
        }
        catch (EntryPointNotFoundException e)
        {
            return (null, e.Message);
        }
    }
}
