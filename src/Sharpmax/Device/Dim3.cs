namespace Sharpmax;

/// <summary>A grid or block shape, as CUDA's dim3. Unnamed dimensions are 1.</summary>
/// <param name="X">Extent along x (blocks in a grid, threads in a block).</param>
/// <param name="Y">Extent along y.</param>
/// <param name="Z">Extent along z.</param>
public readonly record struct Dim3(uint X, uint Y = 1, uint Z = 1)
{
    /// <summary>The product of the three extents.</summary>
    public ulong Volume => (ulong)X * Y * Z;

    /// <summary>A one-dimensional shape. A negative value maps to an extent no device accepts, so the launch fails
    /// with CUDA_ERROR_INVALID_VALUE rather than running with a wrapped size.</summary>
    /// <param name="x">Extent along x.</param>
    public static implicit operator Dim3(int x) => FromInt32(x);

    /// <summary>A one-dimensional shape.</summary>
    /// <param name="x">Extent along x.</param>
    public static implicit operator Dim3(uint x) => new(x);

    /// <summary>A one-dimensional shape (the named form of the implicit conversion).</summary>
    /// <param name="x">Extent along x; a negative value maps to <see cref="uint.MaxValue"/>.</param>
    /// <returns>The shape (x, 1, 1).</returns>
    public static Dim3 FromInt32(int x) => new(x < 0 ? uint.MaxValue : (uint)x);

    /// <inheritdoc/>
    public override string ToString() => $"({X}, {Y}, {Z})";
}
