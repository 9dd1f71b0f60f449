using NUnit.Framework;
using Sharpmax.Ops;

namespace Sharpmax.Tests;

/// <summary>Device.OperationCounts counts each driver operation once, of its kind, on both devices.</summary>
[TestFixture(DeviceKind.Cpu)]
[TestFixture(DeviceKind.Cuda)]
public sealed class DeviceOperationCountsTests(DeviceKind kind) : DeviceTestBase(kind)
{
    /// <summary>The counts <paramref name="work"/> made.</summary>
    private DeviceOperationCounts CountsOf(Action work)
    {
        var before = Device.OperationCounts;
        work();
        return Device.OperationCounts - before;
    }

    [Test]
    public void A_copy_to_the_device_is_one_host_to_device_copy_and_one_host_synchronization()
    {
        using var buffer = Device.Allocate<float>(4);
        var counts = CountsOf(() => buffer.CopyFrom([1f, 2f, 3f, 4f]));
        Assert.That(counts, Is.EqualTo(new DeviceOperationCounts(0, 1, 0, 0, 0, 0)));
        Assert.That(counts.HostSynchronizations, Is.EqualTo(1));
    }

    [Test]
    public void A_copy_to_the_host_is_one_device_to_host_copy_and_one_host_synchronization()
    {
        using var buffer = Device.Upload<float>([1f, 2f, 3f]);
        float[] back = [];
        var counts = CountsOf(() => back = buffer.ToArray());
        Assert.That(back, Is.EqualTo((float[])[1f, 2f, 3f]));
        Assert.That(counts, Is.EqualTo(new DeviceOperationCounts(0, 0, 1, 0, 0, 0)));
        Assert.That(counts.HostSynchronizations, Is.EqualTo(1));
    }

    [Test]
    public void A_copy_between_buffers_is_a_device_to_device_copy_that_does_not_make_the_host_wait()
    {
        using var source = Device.Upload<int>([5, 6]);
        using var target = Device.Allocate<int>(2);
        var counts = CountsOf(() => source.CopyTo(target));
        Assert.That(counts, Is.EqualTo(new DeviceOperationCounts(0, 0, 0, 1, 0, 0)));
        Assert.That(counts.HostSynchronizations, Is.Zero);
    }

    [Test]
    public void Clear_and_fill_are_memsets()
    {
        using var buffer = Device.Allocate<int>(8);
        var counts = CountsOf(() =>
        {
            buffer.Clear();
            buffer.Fill(7);
        });
        Assert.That(counts, Is.EqualTo(new DeviceOperationCounts(0, 0, 0, 0, 2, 0)));
        Assert.That(counts.HostSynchronizations, Is.Zero);
    }

    [Test]
    public void A_launch_is_a_launch_and_with_launch_blocking_also_a_synchronization()
    {
        using var values = Device.Upload<float>([1f, 2f]);
        using var grad = Device.Upload<float>([0.5f, 0.5f]);
        Assert.That(CountsOf(() => Sgd.Step(values, grad, 0.1f)), Is.EqualTo(new DeviceOperationCounts(1, 0, 0, 0, 0, 0)));

        Device.LaunchBlocking = true;
        try
        {
            var blocking = CountsOf(() => Sgd.Step(values, grad, 0.1f));
            Assert.That(blocking, Is.EqualTo(new DeviceOperationCounts(1, 0, 0, 0, 0, 1)));
            Assert.That(blocking.HostSynchronizations, Is.EqualTo(1));
        }
        finally
        {
            Device.LaunchBlocking = false;
        }
    }

    [Test]
    public void Device_and_event_synchronizations_count_once_each()
    {
        using var start = Device.CreateEvent();
        using var end = Device.CreateEvent();
        var counts = CountsOf(() =>
        {
            Device.Synchronize();
            start.Record();
            end.Record();
            end.Synchronize();
            _ = DeviceEvent.ElapsedMilliseconds(start, end);  // waits for the end event: one more
        });
        Assert.That(counts, Is.EqualTo(new DeviceOperationCounts(0, 0, 0, 0, 0, 3)));
    }

    [Test]
    public void Empty_copies_and_fills_make_no_driver_call_and_count_nothing()
    {
        using var empty = Device.Allocate<float>(0);
        var counts = CountsOf(() =>
        {
            empty.CopyFrom([]);
            empty.CopyTo(Span<float>.Empty);
            empty.Clear();
            empty.Fill(1f);
        });
        Assert.That(counts, Is.EqualTo(default(DeviceOperationCounts)));
    }

    [Test]
    public void Snapshots_subtract_field_by_field()
    {
        var later = new DeviceOperationCounts(10, 9, 8, 7, 6, 5);
        var earlier = new DeviceOperationCounts(1, 2, 3, 4, 5, 5);
        Assert.That(later - earlier, Is.EqualTo(new DeviceOperationCounts(9, 7, 5, 3, 1, 0)));
        Assert.That(later.Subtract(earlier), Is.EqualTo(later - earlier));
        Assert.That((later - earlier).HostSynchronizations, Is.EqualTo(7 + 5 + 0));
    }

    [Test]
    public void Pinned_host_memory_receives_a_copy_and_is_freed()
    {
        using var buffer = Device.Upload<int>([3, 1, 4, 1, 5]);
        using var pinned = PinnedHostBuffer<int>.Allocate(Device, 5);
        buffer.CopyTo(pinned.Span);
        Assert.That(pinned.Span.ToArray(), Is.EqualTo(buffer.ToArray()));
        Assert.That(pinned.Span[2], Is.EqualTo(4));
        pinned.Dispose();
        Assert.That(() => pinned.Span.Length, Throws.TypeOf<ObjectDisposedException>());
    }
}
