// The label gather (kernels/gather.cu) through Gather.Forward, on every device. Results are integers: compared exactly.
using NUnit.Framework;
using Sharpmax.Ops;
using Sharpmax.Tests.Reference;

namespace Sharpmax.Tests.Ops;

[TestFixture(DeviceKind.Cpu)]
[TestFixture(DeviceKind.Cuda)]
public sealed class GatherTests(DeviceKind kind) : DeviceTestBase(kind)
{
    [Test]
    public void Picks_by_index_from_the_offset([Values(1, 256, 100_003)] int count)
    {
        const int offset = 17;
        var rng = new RandomData((ulong)count);
        var source = Enumerable.Range(0, count + 50).Select(_ => rng.NextInt(10)).ToArray();
        var index = Enumerable.Range(0, count + offset).Select(_ => rng.NextInt(source.Length)).ToArray();
        using var sb = Device.Upload<int>(source);
        using var ib = Device.Upload<int>(index);
        using var ob = Device.Allocate<int>(count);
        Gather.Forward(sb, ib, offset, ob, count);
        Assert.That(ob.ToArray(), Is.EqualTo(index.Skip(offset).Take(count).Select(i => source[i]).ToArray()));
    }

    [Test]
    public void Without_an_index_copies_from_the_offset()
    {
        int[] source = [5, 6, 7, 8, 9];
        using var sb = Device.Upload<int>(source);
        using var ob = Device.Allocate<int>(3);
        Gather.Forward(sb, null, 2, ob, 3);
        int[] expected = [7, 8, 9];
        Assert.That(ob.ToArray(), Is.EqualTo(expected));
    }

    [Test]
    public void An_index_outside_the_source_writes_int_MinValue()
    {
        int[] source = [5, 6, 7];
        int[] index = [2, -1, 3, 0, int.MaxValue];
        using var sb = Device.Upload<int>(source);
        using var ib = Device.Upload<int>(index);
        using var ob = Device.Allocate<int>(index.Length);
        Gather.Forward(sb, ib, 0, ob, index.Length);
        int[] expected = [7, int.MinValue, int.MinValue, 5, int.MinValue];
        Assert.That(ob.ToArray(), Is.EqualTo(expected));
    }

    [Test]
    public void Ranges_past_the_index_or_the_source_are_rejected()
    {
        using var sb = Device.Allocate<int>(10);
        using var ib = Device.Allocate<int>(8);
        using var ob = Device.Allocate<int>(8);
        Assert.That(() => Gather.Forward(sb, ib, 1, ob, 8), Throws.ArgumentException.With.Message.Contains("index holds 8"));
        Assert.That(() => Gather.Forward(sb, null, 3, ob, 8), Throws.ArgumentException.With.Message.Contains("source holds 10"));
        Assert.That(() => Gather.Forward(sb, ib, 0, ob, 9), Throws.ArgumentException.With.Message.Contains("output holds 8"));
        Assert.That(() => Gather.Forward(sb, ib, 0, sb, 8), Throws.ArgumentException.With.Message.Contains("shares a buffer"));
    }
}
