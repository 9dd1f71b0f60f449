using NUnit.Framework;

namespace Sharpmax.Tests;

/// <summary>
/// The driver gives each OS thread its own current context, and the CPU device now follows that rule
/// (no current context: CUDA_ERROR_INVALID_CONTEXT). A device opened on one thread must therefore make its
/// context current on every thread that uses it; these tests use it from fresh threads.
/// </summary>
[TestFixture(DeviceKind.Cpu)]
[TestFixture(DeviceKind.Cuda)]
public sealed class DeviceThreadTests(DeviceKind kind) : DeviceTestBase(kind)
{
    [Test]
    public void A_thread_that_never_set_a_context_can_upload_launch_download_and_free()
    {
        float[] x = [1, 3, 2, -4, -5, -6];
        float[]? got = null;
        var worker = new Thread(() =>
        {
            using var input = Device.Upload<float>(x);
            using var rowMax = Device.AllocateZeroed<float>(2);
            Device.Launch(Device.Kernel("softmax_rowmax_f32"), grid: 1, block: 32, sharedBytes: 0, input, 2, 3, 3, rowMax);
            Device.Synchronize();
            got = rowMax.ToArray();
        });
        worker.Start();
        worker.Join();
        float[] expected = [3f, -4f];
        Assert.That(got, Is.EqualTo(expected));
    }

    [Test]
    public void A_buffer_made_on_one_thread_is_freed_on_another()
    {
        var buffer = Device.Upload<int>([1, 2, 3]);
        var worker = new Thread(buffer.Dispose);
        worker.Start();
        worker.Join();
        Assert.That(buffer.IsDisposed, Is.True);
    }
}
