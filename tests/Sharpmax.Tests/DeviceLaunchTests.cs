using NUnit.Framework;
using Sharpmax.Interop;
using Sharpmax.Ops;

namespace Sharpmax.Tests;

/// <summary>How launches report failures, and which context they run in.</summary>
[TestFixture(DeviceKind.Cpu)]
[TestFixture(DeviceKind.Cuda)]
public sealed class DeviceLaunchTests(DeviceKind kind) : DeviceTestBase(kind)
{
    [Test]
    public void A_rejected_launch_names_the_kernel_grid_block_and_shared_memory()
    {
        using var input = Device.Upload<float>([2f, 1f]);
        using var rowMax = Device.AllocateZeroed<float>(1);
        var e = Assert.Throws<CudaException>(() => Device.Launch(Device.Kernel("softmax_rowmax_f32"), new Dim3(3, 2, 1), 1025, 0, input, 1, 2, 2, rowMax))!;
        Assert.That(e.Call, Does.Contain("softmax_rowmax_f32").And.Contain("grid (3, 2, 1)").And.Contain("block (1025, 1, 1)").And.Contain("0 bytes of dynamic shared memory"));
        Assert.That(e.Message, Does.Contain(e.Call));
    }

    [Test]
    public void Launch_blocking_reports_a_fault_at_the_launch_that_caused_it_naming_it()
    {
        // A run-time fault: rowmax has room for one row, the kernel writes two. The CPU device's checked mode turns
        // the write past the allocation into CUDA_ERROR_ILLEGAL_ADDRESS, as a GPU would fault.
        Assume.That(Kind == DeviceKind.Cpu, "a deliberate out-of-bounds write would poison a GPU context for the rest of the run");
        using var input = Device.Upload<float>([2f, 1f, 5f, 7f]);
        using var rowMax = Device.AllocateZeroed<float>(1);
        var kernel = Device.Kernel("softmax_rowmax_f32");
        Device.LaunchBlocking = true;
        bool wasChecked = Device.IsCheckedMode();
        Device.SetCheckedMode(true);
        try
        {
            var e = Assert.Throws<CudaException>(() => Device.Launch(kernel, 1, 32, 0, input, 2, 2, 2, rowMax))!;
            Assert.Multiple(() =>
            {
                Assert.That(e.Error, Is.EqualTo(CudaError.IllegalAddress));
                Assert.That(e.Call, Does.Contain("softmax_rowmax_f32").And.Contain("grid (1, 1, 1)").And.Contain("block (32, 1, 1)"));
                Assert.That(e.Detail, Does.Contain("past the end"));
            });
            Device.Launch(kernel, 1, 32, 0, input, 1, 2, 2, rowMax);
            Assert.That(rowMax.ToArray()[0], Is.EqualTo(2f), "the next launch is unaffected");
        }
        finally
        {
            Device.SetCheckedMode(wasChecked);  // the rest of the run stays in the mode it was in
            Device.LaunchBlocking = false;
        }
    }

    [TestCase(null, false)]
    [TestCase("", false)]
    [TestCase("0", false)]
    [TestCase("1", true)]
    [TestCase(" 1 ", true)]
    public void The_launch_blocking_variable_is_0_or_1(string? value, bool expected) =>
        Assert.That(Device.LaunchBlockingFromEnvironment(value), Is.EqualTo(expected));

    [TestCase("yes")]
    [TestCase("2")]
    [TestCase("true")]
    public void Another_launch_blocking_value_is_an_error_naming_it(string value) =>
        Assert.That(() => Device.LaunchBlockingFromEnvironment(value),
            Throws.ArgumentException.With.Message.Contain($"SHARPMAX_LAUNCH_BLOCKING is '{value}'").And.Message.Contain("expected 1"));

    [Test]
    public unsafe void A_context_changed_behind_Sharpmax_s_back_is_made_current_again()
    {
        // Other code on the thread (a library, a raw driver call) may leave another context current, or none. The
        // CPU device has one primary context, so "none" stands in for "another": without a current context a
        // launch fails with CUDA_ERROR_INVALID_CONTEXT, as on a GPU. Sharpmax asks the driver each time.
        using var input = Device.Upload<float>([2f, 1f, 5f, 7f]);
        using var rowMax = Device.AllocateZeroed<float>(2);
        var kernel = Device.Kernel("softmax_rowmax_f32");
        Device.Launch(kernel, 1, 32, 0, input, 2, 2, 2, rowMax);
        Assert.That(Device.Api.cuCtxSetCurrent(0), Is.Zero);
        nint current;
        Assert.That(Device.Api.cuCtxGetCurrent(&current), Is.Zero);
        Assert.That(current, Is.EqualTo((nint)0), "no context is current now");

        rowMax.Clear();
        Device.Launch(kernel, 1, 32, 0, input, 2, 2, 2, rowMax);
        float[] expected = [2f, 7f];
        Assert.That(rowMax.ToArray(), Is.EqualTo(expected));
    }

    [TestCase(DeviceKind.Cuda)]
    [TestCase(DeviceKind.Cpu)]
    public void Every_launch_shape_of_the_ops_fits_the_kernel_s_launch_bounds(DeviceKind shapesOf)
    {
        // The bounds are the PTX's .maxntid, which both devices read; tests/check-ptx.sh checks that a block of that
        // many threads fits the register file. The table printed here is the C# side's half of that check.
        if (Kind == DeviceKind.Cuda && shapesOf == DeviceKind.Cpu)
            Assert.Ignore("The CPU device's shapes include host-only kernels a GPU does not have.");
        Assert.Multiple(() =>
        {
            foreach (var (name, maxBlock) in LaunchShapes.Largest(shapesOf))
            {
                int bound = Device.Kernel(name).MaxThreadsPerBlock;
                TestContext.Out.WriteLine($"{shapesOf} {name,-48} launches ≤ {maxBlock,4} threads, bound {bound}");
                Assert.That(maxBlock, Is.LessThanOrEqualTo(bound), $"{name} on {shapesOf}");
            }
        });
    }
}
