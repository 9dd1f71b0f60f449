using System.Globalization;

namespace Sharpmax.Ops;

/// <summary>Argument checks for ops on <see cref="DeviceMatrix"/> and <see cref="PixelRows"/> operands, run before
/// any launch. Messages name the operand and its shape.</summary>
internal static class MatrixChecks
{
    /// <summary>Checks that <paramref name="m"/> is well formed, on <paramref name="device"/>, and fits its buffer;
    /// <paramref name="dense"/> also requires rows to be contiguous (the kernel takes no stride for it).</summary>
    public static void Matrix(Device device, DeviceMatrix m, string name, bool dense)
    {
        if (m.Buffer is null)
            throw new ArgumentException($"{name} has no buffer.", name);
        RowShapes.SameDevice(device, m.Buffer.Device, name);
        if (m.Rows < 0 || m.Cols < 1)
            throw new ArgumentException(Invariant($"{name} is {m}: rows must be ≥ 0 and columns ≥ 1."), name);
        if (m.RowStride != 0 && m.RowStride < m.Cols)
            throw new ArgumentException(Invariant($"{name} is {m} with row stride {m.RowStride}, shorter than a row."), name);
        if (dense && m.Stride != m.Cols)
            throw new ArgumentException(Invariant($"{name} is {m} with row stride {m.Stride}: this op needs its rows contiguous (stride {m.Cols})."), name);
        if (m.Buffer.Length < m.Span)
            throw new ArgumentException(
                Invariant($"{name} is {m} with row stride {m.Stride}, which needs {m.Span} floats, but its buffer holds {m.Buffer.Length}."), name);
    }

    /// <summary>Checks that the pixel batch is well formed, on <paramref name="device"/>, and that its rows (or its
    /// index entries) exist; index values themselves are checked on the device.</summary>
    public static void Pixels(Device device, PixelRows x, string name)
    {
        ArgumentNullException.ThrowIfNull(x, name);
        if (x.Images is null)
            throw new ArgumentException($"{name} has no image buffer.", name);
        RowShapes.SameDevice(device, x.Images.Device, name);
        if (x.Rows < 0 || x.Cols < 1)
            throw new ArgumentException(Invariant($"{name} is {x}: rows must be ≥ 0 and columns ≥ 1."), name);
        if (x.Offset < 0)
            throw new ArgumentException(Invariant($"{name} starts at offset {x.Offset}; it must be ≥ 0."), name);
        if (x.Rows > 0 && x.ImageCount == 0)
            throw new ArgumentException(
                Invariant($"{name} is {x}, but its image buffer holds {x.Images.Length} bytes: not one image of {x.Cols}."), name);
        if (x.Index is { } index)
        {
            RowShapes.SameDevice(device, index.Device, name);
            if ((long)x.Offset + x.Rows > index.Length)
                throw new ArgumentException(
                    Invariant($"{name} is {x} from index entry {x.Offset}, but the index holds {index.Length} entries."), name);
        }
        else if ((long)x.Offset + x.Rows > x.ImageCount)
        {
            throw new ArgumentException(
                Invariant($"{name} is {x} from image {x.Offset}, but the image buffer holds {x.ImageCount} images of {x.Cols} bytes."), name);
        }
    }

    /// <summary>Checks that <paramref name="v"/> is on <paramref name="device"/> and holds at least
    /// <paramref name="length"/> elements; <paramref name="why"/> says where that length comes from.</summary>
    public static void Vector<T>(Device device, DeviceBuffer<T> v, long length, string name, string why)
        where T : unmanaged =>
        Vector(device, v, length, name, why, static why => why);

    /// <summary><see cref="Vector{T}(Device, DeviceBuffer{T}, long, string, string)"/> with the reason built from
    /// <paramref name="state"/> only when the check fails: ops run once per batch and must not allocate (pass a
    /// static lambda or a static method; the compiler caches either delegate).</summary>
    public static void Vector<T, TState>(Device device, DeviceBuffer<T> v, long length, string name, TState state, Func<TState, string> why)
        where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(v, name);
        RowShapes.SameDevice(device, v.Device, name);
        if (v.Length < length)
            throw new ArgumentException(Invariant($"{name} holds {v.Length} elements, but {why(state)} needs {length}."), name);
    }

    /// <summary>Refuses an output that is one of the inputs' buffers.</summary>
    public static void Distinct(IDeviceMemory output, string name, params ReadOnlySpan<IDeviceMemory?> inputs)
    {
        foreach (var input in inputs)
            if (ReferenceEquals(output, input))
                throw new ArgumentException($"{name} shares a buffer with an input; the kernels need separate buffers.", name);
    }

    public static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
