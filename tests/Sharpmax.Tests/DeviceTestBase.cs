using NUnit.Framework;

namespace Sharpmax.Tests;

/// <summary>
/// Base of every test that runs on a device. Derive with one fixture per device:
/// <code>
/// [TestFixture(DeviceKind.Cpu)]
/// [TestFixture(DeviceKind.Cuda)]
/// public sealed class MyOpTests(DeviceKind kind) : DeviceTestBase(kind) { … }
/// </code>
/// The CUDA fixture shows as Skipped, with the reason, where there is no GPU. After each test the device must
/// hold exactly the bytes it held before it (no leaked buffers, also on failure paths). The CPU device counts
/// every allocation in the process, so device fixtures must not run in parallel with each other.
/// </summary>
public abstract class DeviceTestBase
{
    private Device? _device;
    private long _liveBytesBefore;

    /// <summary>Creates the fixture for one device kind.</summary>
    /// <param name="kind">Cpu or Cuda.</param>
    protected DeviceTestBase(DeviceKind kind) => Kind = kind;

    /// <summary>The device kind this fixture runs on.</summary>
    protected DeviceKind Kind { get; }

    /// <summary>The device, open for the whole fixture.</summary>
    protected Device Device => _device ?? throw new InvalidOperationException("The device is opened in OneTimeSetUp.");

    /// <summary>Opens the device, or ignores the fixture with the reason when this machine does not have it.</summary>
    [OneTimeSetUp]
    public void OpenDevice()
    {
        try
        {
            _device = Device.Open(Kind);
        }
        catch (DeviceUnavailableException e) when (Kind == DeviceKind.Cuda)
        {
            Assert.Ignore($"Skipped on CUDA: {e.Message}");
        }

        TestContext.Progress.WriteLine($"{GetType().Name}: {_device!.Description}");
    }

    /// <summary>Remembers the device's live bytes, to compare after the test.</summary>
    [SetUp]
    public void RecordLiveBytes()
    {
        // A buffer leaked by an earlier test (already reported there) is freed by its finalizer; let that happen
        // now rather than in the middle of this test, where it would look like this test freed too much.
        GC.Collect();
        GC.WaitForPendingFinalizers();
        _liveBytesBefore = Device.LiveBytes;
    }

    /// <summary>Fails the test when it left device memory allocated, and resets the CPU device's schedule.</summary>
    [TearDown]
    public void CheckNoLeak()
    {
        if (_device is null)
            return;
        if (_device.Kind == DeviceKind.Cpu)
            _device.SetScheduleSeed(0);
        var leaked = _device.LiveBytes - _liveBytesBefore;
        Assert.That(leaked, Is.Zero, $"{TestContext.CurrentContext.Test.Name} left {leaked} device bytes allocated (a DeviceBuffer not disposed).");
    }

    /// <summary>Disposes the device.</summary>
    [OneTimeTearDown]
    public void CloseDevice()
    {
        _device?.Dispose();
        _device = null;
    }
}
