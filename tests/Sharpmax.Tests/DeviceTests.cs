using System.Runtime.CompilerServices;
using System.Text.RegularExpressions;
using NUnit.Framework;

namespace Sharpmax.Tests;

[TestFixture(DeviceKind.Cpu)]
[TestFixture(DeviceKind.Cuda)]
public sealed partial class DeviceTests(DeviceKind kind) : DeviceTestBase(kind)
{
    // A simple kernel of kernels/softmax.cu: rowmax[r] = max_c x[r*ldx + c], one thread per row.
    private const string RowMaxKernel = "softmax_rowmax_f32";

    [Test]
    public void Open_reports_kind_name_and_limits()
    {
        Assert.Multiple(() =>
        {
            Assert.That(Device.Kind, Is.EqualTo(Kind));
            Assert.That(Device.Name, Is.Not.Empty);
            Assert.That(Device.Description, Does.Contain(Device.Name).And.Contain("requested"));
            Assert.That(Device.MaxThreadsPerBlock, Is.EqualTo(1024));
            Assert.That(Device.MaxSharedBytesPerBlock, Is.GreaterThanOrEqualTo(48 * 1024));
            Assert.That(Device.MaxSharedBytesPerBlockOptIn, Is.GreaterThanOrEqualTo(Device.MaxSharedBytesPerBlock));
            Assert.That(Device.MultiprocessorCount, Is.Positive);
        });
    }

    [Test]
    public void Upload_then_ToArray_round_trips([Values(0, 1, 1000, 65537)] int length)
    {
        var data = Enumerable.Range(0, length).Select(i => i * 0.5f - 7f).ToArray();
        using var buffer = Device.Upload<float>(data);
        Assert.Multiple(() =>
        {
            Assert.That(buffer.Length, Is.EqualTo(length));
            Assert.That(buffer.SizeInBytes, Is.EqualTo(4L * length));
            Assert.That(buffer.ToArray(), Is.EqualTo(data));
        });
    }

    [Test]
    public void Copies_at_an_offset_touch_only_their_range()
    {
        using var buffer = Device.AllocateZeroed<int>(10);
        buffer.CopyFrom([1, 2, 3], offset: 7);
        var tail = new int[4];
        buffer.CopyTo(tail, offset: 6);
        int[] expectedAll = [0, 0, 0, 0, 0, 0, 0, 1, 2, 3];
        int[] expectedTail = [0, 1, 2, 3];
        Assert.Multiple(() =>
        {
            Assert.That(buffer.ToArray(), Is.EqualTo(expectedAll));
            Assert.That(tail, Is.EqualTo(expectedTail));
        });
    }

    [Test]
    public void Device_to_device_copy_and_clear()
    {
        byte[] data = [1, 2, 3, 250, 251];
        using var source = Device.Upload<byte>(data);
        using var copy = Device.Allocate<byte>(data.Length);
        source.CopyTo(copy);
        source.Clear();
        Assert.Multiple(() =>
        {
            Assert.That(copy.ToArray(), Is.EqualTo(data));
            Assert.That(source.ToArray(), Is.All.Zero);
        });
    }

    [Test]
    public void AllocateZeroed_is_zero_and_Fill_sets_every_element()
    {
        using var zeros = Device.AllocateZeroed<float>(1001);
        using var floats = Device.Allocate<float>(1001);
        using var ints = Device.Allocate<int>(3);
        using var bytes = Device.Allocate<byte>(5);
        using var doubles = Device.Allocate<double>(1);
        floats.Fill(1.5f);
        ints.Fill(-7);
        bytes.Fill(0xAB);
        Assert.Multiple(() =>
        {
            Assert.That(zeros.ToArray(), Is.All.EqualTo(0f));
            Assert.That(floats.ToArray(), Is.All.EqualTo(1.5f));
            Assert.That(ints.ToArray(), Is.All.EqualTo(-7));
            Assert.That(bytes.ToArray(), Is.All.EqualTo((byte)0xAB));
            Assert.Throws<NotSupportedException>(() => doubles.Fill(1.0));
        });
    }

    [Test]
    public void Live_bytes_return_to_where_they_were_after_Dispose()
    {
        var before = Device.LiveBytes;
        var buffer = Device.Allocate<float>(1000);
        var during = Device.LiveBytes;
        buffer.Dispose();
        buffer.Dispose();  // a second Dispose is harmless
        Assert.Multiple(() =>
        {
            Assert.That(during - before, Is.GreaterThanOrEqualTo(4000));
            Assert.That(Device.LiveBytes, Is.EqualTo(before));
            Assert.That(buffer.IsDisposed, Is.True);
        });
    }

    [Test]
    public void Empty_buffer_has_no_memory()
    {
        using var empty = Device.Allocate<float>(0);
        Assert.Multiple(() =>
        {
            Assert.That(empty.Pointer, Is.Zero);
            Assert.That(empty.ToArray(), Is.Empty);
        });
        empty.Clear();
    }

    [Test]
    public void Bad_arguments_are_rejected_before_any_native_call()
    {
        using var buffer = Device.Allocate<float>(4);
        var disposed = Device.Allocate<float>(4);
        disposed.Dispose();
        Assert.Multiple(() =>
        {
            Assert.Throws<ArgumentOutOfRangeException>(() => Device.Allocate<float>(-1));
            Assert.Throws<ArgumentOutOfRangeException>(() => buffer.CopyFrom(new float[5]));
            Assert.Throws<ArgumentOutOfRangeException>(() => buffer.CopyFrom(new float[2], offset: 3));
            Assert.Throws<ArgumentOutOfRangeException>(() => buffer.CopyTo(new float[1], offset: -1));
            Assert.Throws<ArgumentOutOfRangeException>(() => buffer.At(5));
            Assert.Throws<ObjectDisposedException>(() => _ = disposed.Pointer);
            Assert.Throws<ObjectDisposedException>(() => disposed.ToArray());
            Assert.Throws<ObjectDisposedException>(() => disposed.CopyFrom([1f]));
            Assert.Throws<ArgumentException>(() => Device.Kernel("no_such_kernel_f32"));
        });
    }

    [Test]
    public void Launch_validates_kernel_buffers_and_counts()
    {
        var kernel = Device.Kernel(RowMaxKernel);
        using var x = Device.AllocateZeroed<float>(4);
        using var rowMax = Device.Allocate<float>(1);
        var disposed = Device.Allocate<float>(1);
        disposed.Dispose();
        using var other = Device.Open(Kind);
        using var foreign = other.Allocate<float>(1);
        var otherKernel = other.Kernel(RowMaxKernel);

        Assert.Multiple(() =>
        {
            var e = Assert.Throws<ArgumentException>(() => Device.Launch(kernel, 1, 1, 0, x, 1, 4, 4, foreign));
            Assert.That(e!.Message, Does.Contain("another device"));
            Assert.Throws<ArgumentException>(() => Device.Launch(otherKernel, 1, 1, 0, x, 1, 4, 4, rowMax));
            Assert.Throws<ObjectDisposedException>(() => Device.Launch(kernel, 1, 1, 0, x, 1, 4, 4, disposed));
            Assert.Throws<ArgumentOutOfRangeException>(() => Device.Launch(kernel, 1, 1, -1, x, 1, 4, 4, rowMax));
            Assert.Throws<ArgumentException>(() => Device.Launch(kernel, 1, 1, 0, Enumerable.Repeat<KernelArg>(0, 65).ToArray()));
        });
    }

    [Test]
    public void Kernel_is_cached_per_name()
    {
        Assert.That(Device.Kernel(RowMaxKernel), Is.SameAs(Device.Kernel(RowMaxKernel)));
    }

    [Test]
    public void Launch_passes_pointers_and_scalars()
    {
        // Three rows of C = 3 with row stride ldx = 5 (the two padding columns hold larger values that must be skipped).
        float[] x =
        [
            1, 3, 2, 99, 99,
            -4, -5, -6, 99, 99,
            0.5f, 0.25f, 8, 99, 99,
        ];
        using var input = Device.Upload<float>(x);
        using var rowMax = Device.AllocateZeroed<float>(3);
        Device.Launch(Device.Kernel(RowMaxKernel), grid: 1, block: 32, sharedBytes: 0, input, 3, 3, 5, rowMax);
        Device.Synchronize();
        float[] expected = [3f, -4f, 8f];
        Assert.That(rowMax.ToArray(), Is.EqualTo(expected));
    }

    [TestCase(1, 1025, 0, TestName = "{m}(block of 1025 threads)")]
    [TestCase(0, 32, 0, TestName = "{m}(empty grid)")]
    [TestCase(1, 32, -1, TestName = "{m}(more shared memory than the opt-in maximum)")]
    public void Illegal_launch_throws_invalid_value_and_the_device_keeps_working(int grid, int block, int sharedBytes)
    {
        if (sharedBytes < 0)
            sharedBytes = Device.MaxSharedBytesPerBlockOptIn + 1;
        using var input = Device.Upload<float>([2f, 1f]);
        using var rowMax = Device.AllocateZeroed<float>(1);
        var kernel = Device.Kernel(RowMaxKernel);

        var e = Assert.Throws<CudaException>(() => Device.Launch(kernel, grid, block, sharedBytes, input, 1, 2, 2, rowMax));
        Assert.Multiple(() =>
        {
            Assert.That(e!.Error, Is.EqualTo(CudaError.InvalidValue));
            Assert.That(e.ErrorName, Is.EqualTo("CUDA_ERROR_INVALID_VALUE"));
            Assert.That(e.Message, Does.Contain("CUDA_ERROR_INVALID_VALUE").And.Contain(e.Call));
            Assert.That(e.Call, Does.StartWith(sharedBytes > 48 * 1024 ? "cuFuncSetAttribute" : "cuLaunchKernel"));
            if (Kind == DeviceKind.Cpu)
                Assert.That(e.Detail, Is.Not.Empty, "the CPU device explains the rejection");
        });

        Device.Launch(kernel, 1, 32, 0, input, 1, 2, 2, rowMax);
        Device.Synchronize();
        Assert.That(rowMax.ToArray()[0], Is.EqualTo(2f));
    }

    [Test]
    public void Launch_above_48_KiB_of_shared_memory_opts_in()
    {
        // softmax_forward_f32_block caches a row of C floats in dynamic shared memory: 4·C bytes per block.
        const int c = 20_000;
        const int sharedBytes = 4 * c;
        Assume.That(Device.MaxSharedBytesPerBlockOptIn, Is.GreaterThanOrEqualTo(sharedBytes),
            $"{Device.Name} allows only {Device.MaxSharedBytesPerBlockOptIn} bytes of shared memory per block");
        var x = Enumerable.Range(0, 2 * c).Select(i => (i % 97) * 0.01f).ToArray();
        using var input = Device.Upload<float>(x);
        using var output = Device.Allocate<float>(2 * c);
        Device.Launch(Device.Kernel("softmax_forward_f32_block"), grid: 2, block: 256, sharedBytes, input, 2, c, c, output, c);
        Device.Synchronize();
        var y = output.ToArray();
        Assert.Multiple(() =>
        {
            Assert.That(y.Take(c).Sum(), Is.EqualTo(1.0).Within(1e-4), "row 0 sums to 1");
            Assert.That(y.Skip(c).Sum(), Is.EqualTo(1.0).Within(1e-4), "row 1 sums to 1");
        });
    }

    [Test]
    public void Events_measure_non_negative_time()
    {
        using var start = Device.CreateEvent();
        using var end = Device.CreateEvent();
        using var input = Device.AllocateZeroed<float>(1 << 16);
        using var rowMax = Device.Allocate<float>(256);
        start.Record();
        Device.Launch(Device.Kernel(RowMaxKernel), 1, 256, 0, input, 256, 256, 256, rowMax);
        end.Record();
        Assert.That(DeviceEvent.ElapsedMilliseconds(start, end), Is.GreaterThanOrEqualTo(0f));
    }

    [Test]
    public void Disposed_device_refuses_work_and_its_live_buffer_still_frees()
    {
        var before = Device.LiveBytes;
        var other = Device.Open(Kind);
        var buffer = other.Allocate<float>(16);
        other.Dispose();
        Assert.Multiple(() =>
        {
            Assert.Throws<ObjectDisposedException>(() => other.Allocate<float>(1));
            Assert.Throws<ObjectDisposedException>(() => other.Kernel(RowMaxKernel));
            Assert.Throws<ObjectDisposedException>(() => buffer.ToArray());
        });
        buffer.Dispose();
        Assert.That(Device.LiveBytes, Is.EqualTo(before));
    }

    [Test]
    public void Schedule_knobs_exist_only_on_the_cpu()
    {
        if (Kind == DeviceKind.Cuda)
        {
            Assert.Throws<NotSupportedException>(() => Device.SetScheduleSeed(1));
            return;
        }

        Device.SetScheduleSeed(12345);
        Launch_passes_pointers_and_scalars();
        Device.SetScheduleSeed(0);
    }

    [Test]
    public void Every_kernel_source_has_a_host_twin()
    {
        if (Kind != DeviceKind.Cpu)
            Assert.Ignore("Host twins live in the CPU device's library.");
        Assert.Multiple(() =>
        {
            foreach (var name in KernelSourceExports())
                Assert.DoesNotThrow(() => Device.HostKernel(name), $"{name} has no host twin (a stale native build? rerun ./build.sh)");
        });
    }

    [Test]
    public void Every_ptx_entry_has_a_host_twin_and_every_kernel_source_a_ptx_entry()
    {
        var entries = Device.PtxEntryNames;
        if (entries.Count == 0)
            Assert.Ignore("No PTX embedded: the assembly was built without a CUDA compiler (the CPU device binds kernels by name).");

        // On the CPU device, loading the PTX already bound each entry to its host twin (the load fails otherwise);
        // looking each one up proves it again, one by one.
        Assert.Multiple(() =>
        {
            Assert.That(entries, Is.Unique, "an entry name declared in two PTX files");
            Assert.That(entries, Is.EquivalentTo(KernelSourceExports()),
                "PTX entries vs SHARPMAX_EXPORT lines in kernels/*.cu (a stale native build? rerun ./build.sh)");
            foreach (var name in entries)
                Assert.That(Device.Kernel(name).Name, Is.EqualTo(name));
            // SHARPMAX_EXPORT_HOST_ONLY kernels stay out of the PTX (no JIT time on a GPU) but exist on the CPU device.
            var hostOnly = KernelSourceExports(HostOnlyExportLine());
            Assert.That(hostOnly, Is.Not.Empty, "linear.cu's _simd kernels are host-only");
            Assert.That(entries.Intersect(hostOnly), Is.Empty, "a host-only kernel in the PTX");
            if (Kind == DeviceKind.Cpu)
                foreach (var name in hostOnly)
                    Assert.That(Device.Kernel(name).Name, Is.EqualTo(name), $"{name}: no host twin");
        });
    }

    private static List<string> KernelSourceExports(Regex? line = null)
    {
        var kernels = RepositoryDirectory("kernels");
        return Directory.EnumerateFiles(kernels, "*.cu")
            .SelectMany(file => (line ?? ExportLine()).Matches(File.ReadAllText(file)).Select(m => m.Groups["name"].Value))
            .ToList();
    }

    // The repository is found above the test output or, when that lives elsewhere (--artifacts-path), above this source file.
    private static string RepositoryDirectory(string name, [CallerFilePath] string sourceFile = "")
    {
        foreach (var start in new[] { AppContext.BaseDirectory, Path.GetDirectoryName(sourceFile) ?? "" })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, name);
                if (Directory.Exists(candidate) && File.Exists(Path.Combine(dir.FullName, "Sharpmax.slnx")))
                    return candidate;
            }
        }

        throw new DirectoryNotFoundException($"No {name}/ beside Sharpmax.slnx above {AppContext.BaseDirectory} or {sourceFile}.");
    }

    [GeneratedRegex(@"^SHARPMAX_EXPORT\((?<name>\w+),", RegexOptions.Multiline)]
    private static partial Regex ExportLine();

    [GeneratedRegex(@"^SHARPMAX_EXPORT_HOST_ONLY\((?<name>\w+),", RegexOptions.Multiline)]
    private static partial Regex HostOnlyExportLine();
}
