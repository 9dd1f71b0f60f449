using NUnit.Framework;

namespace Sharpmax.Tests;

public sealed class DeviceSelectionTests
{
    [Test]
    public void Auto_opens_a_device_and_says_why()
    {
        using var device = Device.Open();
        Assert.Multiple(() =>
        {
            Assert.That(device.Kind, Is.AnyOf(DeviceKind.Cpu, DeviceKind.Cuda));
            Assert.That(device.Description, Does.Contain("auto chose"));
        });
    }

    [Test]
    public void Cuda_without_a_gpu_throws_saying_why()
    {
        DeviceUnavailableException? unavailable = null;
        try
        {
            using var device = Device.Open(DeviceKind.Cuda);
        }
        catch (DeviceUnavailableException e)
        {
            unavailable = e;
        }

        if (unavailable is null)
            Assert.Ignore("This machine has a GPU, so opening CUDA succeeds.");
        Assert.That(unavailable!.Message, Does.StartWith("No CUDA device: ").And.Length.GreaterThan("No CUDA device: ".Length + 10));
    }

    [Test]
    public void Auto_on_a_machine_without_gpu_chooses_the_cpu()
    {
        using var device = Device.Open();
        if (device.Kind == DeviceKind.Cuda)
            Assert.Ignore($"This machine has a GPU: {device.Description}");
        Assert.That(device.Description, Does.Contain("auto chose the CPU: "));
    }
}
