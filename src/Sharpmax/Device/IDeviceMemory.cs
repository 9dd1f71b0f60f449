namespace Sharpmax;

/// <summary>What a launch needs to know about a buffer passed as an argument, whatever its element type.</summary>
internal interface IDeviceMemory
{
    Device Device { get; }

    bool IsDisposed { get; }
}
