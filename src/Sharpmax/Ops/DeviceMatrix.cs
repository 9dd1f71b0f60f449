using System.Globalization;

namespace Sharpmax.Ops;

/// <summary>
/// A row-major <see cref="Rows"/>×<see cref="Cols"/> float matrix held in a device buffer, rows
/// <see cref="RowStride"/> floats apart (0 means <see cref="Cols"/>). Ops check these shapes against each other
/// and against the buffer before they launch anything.
/// </summary>
/// <param name="Buffer">The buffer holding the matrix from element 0.</param>
/// <param name="Rows">Rows, at least 0.</param>
/// <param name="Cols">Columns, at least 1.</param>
/// <param name="RowStride">Floats from one row to the next; 0 means <paramref name="Cols"/>.</param>
public readonly record struct DeviceMatrix(DeviceBuffer<float> Buffer, int Rows, int Cols, int RowStride = 0)
{
    /// <summary>The row stride in floats, <see cref="Cols"/> when <see cref="RowStride"/> is 0.</summary>
    public int Stride => RowStride == 0 ? Cols : RowStride;

    /// <summary>Floats the matrix spans in its buffer: (Rows − 1)·Stride + Cols, or 0 without rows.</summary>
    public long Span => Rows == 0 ? 0 : (long)(Rows - 1) * Stride + Cols;

    /// <summary>The shape as "Rows×Cols", as error messages print it.</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Rows}×{Cols}");
}
