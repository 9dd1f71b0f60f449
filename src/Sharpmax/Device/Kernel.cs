namespace Sharpmax;

/// <summary>A kernel entry point loaded on one <see cref="Sharpmax.Device"/>; get it from <see cref="Device.Kernel"/>.</summary>
public sealed class Kernel
{
    internal Kernel(Device device, string name, nint function, int maxThreadsPerBlock, int staticSharedBytes, int dynamicSharedLimit)
    {
        Device = device;
        Name = name;
        Function = function;
        MaxThreadsPerBlock = maxThreadsPerBlock;
        StaticSharedBytes = staticSharedBytes;
        DynamicSharedLimit = dynamicSharedLimit;
    }

    /// <summary>The entry name, the same word in the .cu source, the PTX and the host library.</summary>
    public string Name { get; }

    /// <summary>The device the kernel was loaded on; it can only be launched there.</summary>
    public Device Device { get; }

    /// <summary>The most threads a block of this kernel may have: its launch bounds (SHARPMAX_MAX_THREADS), as the
    /// driver reports them (CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK).</summary>
    public int MaxThreadsPerBlock { get; }

    /// <summary>The kernel's static <c>__shared__</c> bytes (CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES). A block's static and
    /// dynamic shared memory together must fit the device's limit.</summary>
    public int StaticSharedBytes { get; }

    internal nint Function { get; }

    /// <summary>The dynamic shared memory this kernel may use so far, in bytes: the driver's default (48 KiB minus
    /// the static bytes) until <see cref="Sharpmax.Device.Launch"/> raises it with cuFuncSetAttribute.</summary>
    internal int DynamicSharedLimit { get; set; }

    /// <inheritdoc/>
    public override string ToString() => Name;
}
