using NUnit.Framework;
using Sharpmax.Interop;

namespace Sharpmax.Tests;

/// <summary>The bench's vendor baselines: the bindings resolve and OpenBLAS multiplies.</summary>
public sealed class BaselineLibraryTests
{
    [Test]
    public unsafe void OpenBlas_sgemm_multiplies_row_major_matrices()
    {
        var blas = OpenBlas.TryLoad(out var failure);
        if (blas is null)
            Assert.Ignore($"OpenBLAS is not installed (Debian libopenblas0): {failure}");

        // [1 2 3; 4 5 6] (2×3) · [1 0; 0 1; 1 1] (3×2) = [4 5; 10 11]
        float[] a = [1, 2, 3, 4, 5, 6];
        float[] b = [1, 0, 0, 1, 1, 1];
        var c = new float[4];
        fixed (float* pa = a, pb = b, pc = c)
            blas.cblas_sgemm(OpenBlas.RowMajor, OpenBlas.NoTrans, OpenBlas.NoTrans, 2, 2, 3, 1f, pa, 3, pb, 2, 0f, pc, 2);
        float[] expected = [4, 5, 10, 11];
        Assert.That(c, Is.EqualTo(expected));
    }

    [Test]
    public void Cublas_binding_resolves_when_cublas_is_installed()
    {
        var cublas = CublasApi.TryLoad(out var failure);
        if (cublas is null)
            Assert.Ignore($"cuBLAS is not installed: {failure}");
        Assert.That(cublas.LibraryName, Does.Contain("cublas"));
    }
}
