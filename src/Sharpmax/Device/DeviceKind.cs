namespace Sharpmax;

/// <summary>Which device <see cref="Device.Open"/> opens.</summary>
public enum DeviceKind
{
    /// <summary>CUDA when the NVIDIA driver loads and reports a device, otherwise the CPU.</summary>
    Auto,

    /// <summary>The CPU grid runtime (libsharpmax_host): the same kernels compiled for the host.</summary>
    Cpu,

    /// <summary>An NVIDIA GPU through the CUDA driver API, running the embedded PTX.</summary>
    Cuda,
}
