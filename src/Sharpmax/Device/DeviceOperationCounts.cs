namespace Sharpmax;

/// <summary>
/// How many driver operations of each kind a <see cref="Device"/> was asked for, counted by the C# device layer
/// at the one place each call is made, so the numbers mean the same on the CPU device and on a GPU. Take
/// <see cref="Device.OperationCounts"/> before and after some work and subtract.
/// </summary>
/// <param name="Launches">Kernel launches (cuLaunchKernel).</param>
/// <param name="HostToDeviceCopies">Copies from host memory into a buffer (cuMemcpyHtoD).</param>
/// <param name="DeviceToHostCopies">Copies from a buffer into host memory (cuMemcpyDtoH).</param>
/// <param name="DeviceToDeviceCopies">Copies between two buffers (cuMemcpyDtoD).</param>
/// <param name="Memsets">Buffer fills and clears (cuMemsetD8, cuMemsetD32).</param>
/// <param name="Synchronizations">Waits for the device: cuCtxSynchronize (<see cref="Device.Synchronize"/>, and
/// each launch under <see cref="Device.LaunchBlocking"/>) and cuEventSynchronize.</param>
public readonly record struct DeviceOperationCounts(
    long Launches,
    long HostToDeviceCopies,
    long DeviceToHostCopies,
    long DeviceToDeviceCopies,
    long Memsets,
    long Synchronizations)
{
    /// <summary>
    /// The calls that make the host wait for the device: the synchronous copies to and from host memory (CUDA's
    /// cuMemcpyHtoD and cuMemcpyDtoH return only after the work queued before them, and for DtoH the copy itself,
    /// has finished with the host's memory) plus <see cref="Synchronizations"/>. Launches, device-to-device copies
    /// and memsets of device memory are queued without a wait.
    /// </summary>
    public long HostSynchronizations => HostToDeviceCopies + DeviceToHostCopies + Synchronizations;

    /// <summary>The operations made between two snapshots.</summary>
    /// <param name="later">The later snapshot.</param>
    /// <param name="earlier">The earlier snapshot.</param>
    /// <returns>Each count of <paramref name="later"/> minus that of <paramref name="earlier"/>.</returns>
    public static DeviceOperationCounts operator -(DeviceOperationCounts later, DeviceOperationCounts earlier) => new(
        later.Launches - earlier.Launches,
        later.HostToDeviceCopies - earlier.HostToDeviceCopies,
        later.DeviceToHostCopies - earlier.DeviceToHostCopies,
        later.DeviceToDeviceCopies - earlier.DeviceToDeviceCopies,
        later.Memsets - earlier.Memsets,
        later.Synchronizations - earlier.Synchronizations);

    /// <summary>The difference, as a method for languages without operators.</summary>
    /// <param name="earlier">The earlier snapshot.</param>
    /// <returns>This snapshot minus <paramref name="earlier"/>.</returns>
    public DeviceOperationCounts Subtract(DeviceOperationCounts earlier) => this - earlier;
}
