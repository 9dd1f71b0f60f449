namespace Sharpmax;

/// <summary>The live counters behind <see cref="DeviceOperationCounts"/>; any thread may count (interlocked).</summary>
internal sealed class DeviceOperationCounters
{
    private long _launches;
    private long _hostToDevice;
    private long _deviceToHost;
    private long _deviceToDevice;
    private long _memsets;
    private long _synchronizations;

    public void Launch() => Interlocked.Increment(ref _launches);

    public void HostToDevice() => Interlocked.Increment(ref _hostToDevice);

    public void DeviceToHost() => Interlocked.Increment(ref _deviceToHost);

    public void DeviceToDevice() => Interlocked.Increment(ref _deviceToDevice);

    public void Memset() => Interlocked.Increment(ref _memsets);

    public void Synchronization() => Interlocked.Increment(ref _synchronizations);

    public DeviceOperationCounts Snapshot() => new(
        Interlocked.Read(ref _launches),
        Interlocked.Read(ref _hostToDevice),
        Interlocked.Read(ref _deviceToHost),
        Interlocked.Read(ref _deviceToDevice),
        Interlocked.Read(ref _memsets),
        Interlocked.Read(ref _synchronizations));
}
