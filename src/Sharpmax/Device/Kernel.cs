namespace Sharpmax;

/// <summary>A kernel entry point loaded on one <see cref="Sharpmax.Device"/>; get it from <see cref="Device.Kernel"/>.</summary>
public sealed class Kernel
{
    /// <summary>Dynamic shared memory every kernel may use without opting in (CUDA's default limit, 48 KiB).</summary>
    internal const int DefaultDynamicSharedLimit = 48 * 1024;

    internal Kernel(Device device, string name, nint function)
    {
        Device = device;
        Name = name;
        Function = function;
    }

    /// <summary>The entry name, the same word in the .cu source, the PTX and the host library.</summary>
    public string Name { get; }

    /// <summary>The device the kernel was loaded on; it can only be launched there.</summary>
    public Device Device { get; }

    internal nint Function { get; }

    /// <summary>The dynamic shared memory this kernel has been allowed so far (cuFuncSetAttribute), in bytes.</summary>
    internal int DynamicSharedLimit { get; set; } = DefaultDynamicSharedLimit;

    /// <inheritdoc/>
    public override string ToString() => Name;
}
