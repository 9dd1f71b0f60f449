using NUnit.Framework;
using Sharpmax.Ops;
using Sharpmax.Tests.Reference;

namespace Sharpmax.Tests.Ops;

[TestFixture(DeviceKind.Cpu)]
[TestFixture(DeviceKind.Cuda)]
public sealed class SoftmaxTests(DeviceKind kind) : DeviceTestBase(kind)
{
    // p = softmax(x) against the float64 reference, |got − ref| ≤ Atol + Rtol·|ref|:
    // Rtol 2e-5: each exp(x − max) is within 1.4 ulp (the host's row_exp; CUDA's expf: 2 ulp); the shift x − max
    //   rounds by at most half an ulp of |x − max| < 87.4 (below that p is 0), 4e-6 relative after exp; the row sum
    //   of C positive terms in float lanes errs like √(C/lanes)·2^-24 in practice (about 1e-5 at C = 262144, row kernel).
    // Atol 1e-37: p below float's normal range (exp(x − max) < 2^-126) is flushed to 0 by the host exp.
    private const double Rtol = 2e-5;
    private const double Atol = 1e-37;

    [TestCaseSource(typeof(RowCases), nameof(RowCases.Shapes))]
    public void Fused_matches_the_reference(RowKernelVariant variant, int n, int c)
    {
        var x = RowCases.Logits(seed: (ulong)(n * 1000003 + c), n, c);
        using var op = new Softmax(Device, variant);
        using var input = Device.Upload<float>(x);
        using var output = Device.Allocate<float>(x.Length);
        op.Forward(input, output, n, c);
        AssertClose.Tensor(output.ToArray(), ReferenceOps.Softmax(x, n, c), Atol, Rtol, $"{op.KernelFor(n, c)} N={n} C={c}", c);
    }

    [TestCase(1, 1)]
    [TestCase(37, 10)]
    [TestCase(37, 1000)]
    [TestCase(7, 65537)]
    [TestCase(7, 262144)]
    public void Naive_chain_matches_the_reference(int n, int c)
    {
        var x = RowCases.Logits(seed: (ulong)c, n, c);
        using var op = new Softmax(Device);
        using var input = Device.Upload<float>(x);
        using var output = Device.Allocate<float>(x.Length);
        op.ForwardNaive(input, output, n, c);
        AssertClose.Tensor(output.ToArray(), ReferenceOps.Softmax(x, n, c), Atol, Rtol, $"naive chain N={n} C={c}", c);
    }

    [TestCaseSource(typeof(GoldenCases), nameof(GoldenCases.CrossEntropyNames))]
    public void Fused_and_naive_match_the_NumPy_golden_values(string name)
    {
        var g = GoldenCases.CrossEntropyCase(name);
        using var op = new Softmax(Device);
        using var input = Device.Upload<float>(g.Logits);
        using var fused = Device.Allocate<float>(g.Logits.Length);
        using var naive = Device.Allocate<float>(g.Logits.Length);
        op.Forward(input, fused, g.N, g.C);
        op.ForwardNaive(input, naive, g.N, g.C);
        var expected = g.Values.Select(v => v.Softmax).ToArray();
        AssertClose.Tensor(Pick(fused.ToArray(), g), expected, Atol, Rtol, $"{name}: fused softmax at the golden elements");
        AssertClose.Tensor(Pick(naive.ToArray(), g), expected, Atol, Rtol, $"{name}: naive softmax at the golden elements");
    }

    [TestCase(RowKernelVariant.Row)]
    [TestCase(RowKernelVariant.Warp)]
    [TestCase(RowKernelVariant.Block)]
    [TestCase(RowKernelVariant.Online)]
    public void Strided_rows_are_read_and_written_without_touching_the_padding(RowKernelVariant variant)
    {
        const int n = 9, c = 100, ldx = 128, ldy = 103;
        var x = new RandomData(7).Logits(n, ldx);
        using var op = new Softmax(Device, variant);
        using var input = Device.Upload<float>(x);
        using var output = Device.Upload<float>(Enumerable.Repeat(-1f, n * ldy).ToArray());
        op.Forward(input, output, n, c, ldx, ldy);
        var y = output.ToArray();
        var dense = Enumerable.Range(0, n).SelectMany(r => x.Skip(r * ldx).Take(c)).ToArray();
        var rows = Enumerable.Range(0, n).SelectMany(r => y.Skip(r * ldy).Take(c)).ToArray();
        var padding = Enumerable.Range(0, n).SelectMany(r => y.Skip(r * ldy + c).Take(ldy - c)).Take((n - 1) * (ldy - c));
        AssertClose.Tensor(rows, ReferenceOps.Softmax(dense, n, c), Atol, Rtol, $"{variant} strided", c);
        Assert.That(padding, Is.All.EqualTo(-1f), "the gap between rows is left alone");
    }

    [TestCase(RowKernelVariant.Row)]
    [TestCase(RowKernelVariant.Warp)]
    [TestCase(RowKernelVariant.Block)]
    [TestCase(RowKernelVariant.Online)]
    public void In_place_gives_the_same_result(RowKernelVariant variant)
    {
        const int n = 5, c = 300;
        var x = new RandomData(8).Logits(n, c);
        using var op = new Softmax(Device, variant);
        using var separate = Device.Upload<float>(x);
        using var output = Device.Allocate<float>(x.Length);
        using var inPlace = Device.Upload<float>(x);
        op.Forward(separate, output, n, c);
        op.Forward(inPlace, inPlace, n, c);
        Assert.That(inPlace.ToArray(), Is.EqualTo(output.ToArray()));
    }

    [Test]
    public void A_row_of_all_minus_infinity_gives_zeros_on_every_path([Values] RowKernelVariant variant, [Values(1, 10, 1000)] int c)
    {
        Assume.That(variant != RowKernelVariant.Warp || c <= RowDispatch.WarpMaxColumns);
        using var op = new Softmax(Device, variant);
        using var input = Device.Upload<float>(Enumerable.Repeat(float.NegativeInfinity, 2 * c).ToArray());
        using var output = Device.Allocate<float>(2 * c);
        op.Forward(input, output, 2, c);
        Assert.That(output.ToArray(), Is.All.EqualTo(0f), "fused");
        op.ForwardNaive(input, output, 2, c);
        Assert.That(output.ToArray(), Is.All.EqualTo(0f), "naive");
    }

    [Test]
    public void A_NaN_or_plus_infinity_entry_makes_its_row_NaN_on_every_path([Values] RowKernelVariant variant, [Values(1, 10, 1000)] int c)
    {
        // NumPy and PyTorch: exp(x − max) is NaN for a NaN entry, and exp(∞ − ∞) for a +∞ one, so the row sum and
        // every output of the row are NaN. The reference computes exactly that. Rows: NaN first, NaN last, one +∞,
        // +∞ next to −∞, then an ordinary row that must stay untouched.
        Assume.That(variant != RowKernelVariant.Warp || c <= RowDispatch.WarpMaxColumns);
        const int n = 5;
        var x = new RandomData((ulong)c + 3).Logits(n, c);
        x[0] = float.NaN;
        x[c + c - 1] = float.NaN;
        x[2 * c + c / 2] = float.PositiveInfinity;
        x[3 * c] = float.PositiveInfinity;
        x[3 * c + c - 1] = c > 1 ? float.NegativeInfinity : float.PositiveInfinity;
        var expected = ReferenceOps.Softmax(x, n, c);
        Assert.That(expected.Take(4 * c), Is.All.NaN, "the reference itself");
        using var op = new Softmax(Device, variant);
        using var input = Device.Upload<float>(x);
        using var output = Device.Allocate<float>(x.Length);
        op.Forward(input, output, n, c);
        AssertClose.Tensor(output.ToArray(), expected, Atol, Rtol, $"{op.KernelFor(n, c)} C={c}", c);
        op.ForwardNaive(input, output, n, c);
        AssertClose.Tensor(output.ToArray(), expected, Atol, Rtol, $"naive chain C={c}", c);
    }

    [TestCase(12256)]
    [TestCase(12257)]
    [TestCase(12270)]
    [TestCase(12288)]
    [TestCase(12289)]
    public void The_block_kernel_counts_its_static_shared_memory_when_it_opts_in(int c)
    {
        // 4·C dynamic bytes at most 48 KiB, but with the kernel's 128 static bytes over it (C = 12257..12288): the
        // launch must opt in, or the driver refuses it. Device.Launch once compared 4·C alone with 48 KiB.
        const int n = 3;
        var kernel = Device.Kernel("softmax_forward_f32_block");
        Assert.That(kernel.StaticSharedBytes, Is.EqualTo(32 * sizeof(float)), "scratch[32], as the driver reports it");
        var x = new RandomData((ulong)c).Logits(n, c);
        using var op = new Softmax(Device, RowKernelVariant.Block);
        using var input = Device.Upload<float>(x);
        using var output = Device.Allocate<float>(x.Length);
        op.Forward(input, output, n, c);
        AssertClose.Tensor(output.ToArray(), ReferenceOps.Softmax(x, n, c), Atol, Rtol, $"block C={c}", c);
    }

    [Test]
    public void The_block_dispatch_threshold_counts_static_shared_memory()
    {
        // The largest row the block kernel caches is (opt-in − static)/4 floats.
        const int optIn = 227 * 1024, staticBytes = 128, largest = (optIn - staticBytes) / 4;
        Assert.Multiple(() =>
        {
            Assert.That(RowDispatch.Resolve(DeviceKind.Cuda, optIn, staticBytes, RowKernelVariant.Auto, largest), Is.EqualTo(RowKernelVariant.Block));
            Assert.That(RowDispatch.Resolve(DeviceKind.Cuda, optIn, staticBytes, RowKernelVariant.Auto, largest + 1), Is.EqualTo(RowKernelVariant.Online));
            Assert.That(RowDispatch.Resolve(DeviceKind.Cuda, optIn, 0, RowKernelVariant.Auto, largest + 1), Is.EqualTo(RowKernelVariant.Block), "without static bytes it would fit");
            Assert.That(() => RowDispatch.Resolve(DeviceKind.Cuda, optIn, staticBytes, RowKernelVariant.Block, largest + 1),
                Throws.ArgumentException.With.Message.Contain("128 of them static"));
        });
    }

    [Test]
    public void Dispatch_rules_pick_the_kernel_by_device_and_row_length()
    {
        const int h100OptIn = 227 * 1024;
        Assert.Multiple(() =>
        {
            foreach (int c in (int[])[1, 10, 1000, 30000, 262144])
                Assert.That(RowDispatch.Resolve(DeviceKind.Cpu, 96 * 1024, 128, RowKernelVariant.Auto, c), Is.EqualTo(RowKernelVariant.Row), $"CPU, C={c}");
            Assert.That(RowDispatch.Resolve(DeviceKind.Cuda, h100OptIn, 128, RowKernelVariant.Auto, 1024), Is.EqualTo(RowKernelVariant.Warp));
            Assert.That(RowDispatch.Resolve(DeviceKind.Cuda, h100OptIn, 128, RowKernelVariant.Auto, 1025), Is.EqualTo(RowKernelVariant.Block));
            Assert.That(RowDispatch.Resolve(DeviceKind.Cuda, 48 * 1024, 128, RowKernelVariant.Auto, 30000), Is.EqualTo(RowKernelVariant.Online));
            Assert.That(RowDispatch.Resolve(DeviceKind.Cuda, h100OptIn, 128, RowKernelVariant.Auto, 30000), Is.EqualTo(RowKernelVariant.Block));
            Assert.That(RowDispatch.Resolve(DeviceKind.Cuda, h100OptIn, 128, RowKernelVariant.Auto, 65537), Is.EqualTo(RowKernelVariant.Online));
            Assert.That(() => RowDispatch.Resolve(DeviceKind.Cuda, h100OptIn, 128, RowKernelVariant.Warp, 1025), Throws.ArgumentException);
            Assert.That(() => RowDispatch.Resolve(DeviceKind.Cpu, 96 * 1024, 128, RowKernelVariant.Block, 30000), Throws.ArgumentException);
            using var op = new Softmax(Device);
            Assert.That(op.KernelFor(256, 10), Is.EqualTo(Kind == DeviceKind.Cpu ? "softmax_forward_f32_row" : "softmax_forward_f32_warp32"));
        });
    }

    [TestCase(RowKernelVariant.Row, 37, 1000)]
    [TestCase(RowKernelVariant.Warp, 37, 1000)]
    [TestCase(RowKernelVariant.Block, 37, 1000)]
    [TestCase(RowKernelVariant.Online, 7, 65537)]
    public void Results_are_bitwise_identical_run_to_run_and_under_a_shuffled_schedule(RowKernelVariant variant, int n, int c)
    {
        var x = RowCases.Logits(seed: 99, n, c);
        using var op = new Softmax(Device, variant);
        using var input = Device.Upload<float>(x);
        using var output = Device.Allocate<float>(x.Length);
        float[] Run()
        {
            op.Forward(input, output, n, c);
            return output.ToArray();
        }
        var first = Run();
        Assert.That(Run(), Is.EqualTo(first), "second run");
        if (Kind == DeviceKind.Cpu)
        {
            Device.SetScheduleSeed(12345);
            Assert.That(Run(), Is.EqualTo(first), "randomized schedule, seed 12345");
            Device.SetScheduleSeed(777);
            Assert.That(Run(), Is.EqualTo(first), "randomized schedule, seed 777");
        }
    }

    [Test]
    public void Shape_errors_name_both_shapes_and_launch_nothing()
    {
        using var op = new Softmax(Device);
        using var small = Device.Allocate<float>(95);
        using var right = Device.Allocate<float>(100);
        var tooShortInput = Assert.Throws<ArgumentException>(() => op.Forward(small, right, 10, 10))!;
        Assert.That(tooShortInput.Message, Does.Contain("holds 95 floats").And.Contain("N×C = 10×10").And.Contain("needs 100"));
        var tooShortOutput = Assert.Throws<ArgumentException>(() => op.ForwardNaive(right, small, 10, 10))!;
        Assert.That(tooShortOutput.Message, Does.Contain("holds 95 floats").And.Contain("N×C = 10×10"));
        Assert.That(() => op.Forward(right, right, 10, 10, ldx: 9), Throws.InstanceOf<ArgumentOutOfRangeException>());
        Assert.That(() => op.Forward(right, right, 10, 0), Throws.InstanceOf<ArgumentOutOfRangeException>());
        using var warp = new Softmax(Device, RowKernelVariant.Warp);
        using var wide = Device.Allocate<float>(2000);
        Assert.That(() => warp.Forward(wide, wide, 1, 2000), Throws.ArgumentException.With.Message.Contains("C = 2000"));
    }

    private static float[] Pick(float[] dense, XentGoldenCase g) => g.Values.Select(v => dense[(long)v.Row * g.C + v.Col]).ToArray();
}
