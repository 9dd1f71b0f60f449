using System.Runtime.CompilerServices;
using System.Text;
using Sharpmax.Interop;

namespace Sharpmax;

/// <summary>
/// A GPU (through the CUDA driver) or the CPU grid runtime (libsharpmax_host), driven through the same calls:
/// allocate buffers, launch the embedded kernels, synchronize. Not thread-affine: any thread may use it.
/// Dispose it after its buffers and events; a buffer still alive keeps the device's context until it is freed.
/// </summary>
public sealed class Device : IDisposable
{
    private const int MaxKernelArgs = 64;

    private readonly PrimaryContextHandle _context;
    private readonly Dictionary<string, nint> _moduleOfEntry = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Kernel> _kernels = new(StringComparer.Ordinal);
    private readonly bool _usesAllHostKernelsImage;
    private nint _allHostKernelsModule;
    private volatile bool _disposed;

    private Device(DeviceKind kind, PrimaryContextHandle context, string choice)
    {
        Kind = kind;
        _context = context;
        var api = context.Api;
        context.MakeCurrent();

        Name = ReadName(api, context.CuDevice);
        MaxThreadsPerBlock = GetAttribute(DeviceAttribute.MaxThreadsPerBlock);
        MaxSharedBytesPerBlock = GetAttribute(DeviceAttribute.MaxSharedMemoryPerBlock);
        MaxSharedBytesPerBlockOptIn = GetAttribute(DeviceAttribute.MaxSharedMemoryPerBlockOptIn);
        MultiprocessorCount = GetAttribute(DeviceAttribute.MultiprocessorCount);

        string kernels;
        if (PtxImages.All.Count > 0)
        {
            foreach (var image in PtxImages.All)
                LoadPtx(image);
            kernels = $"{PtxEntryNames.Count} kernels from {PtxImages.All.Count} embedded PTX files";
        }
        else
        {
            // Only reachable on the CPU device: Open refuses CUDA without PTX.
            _usesAllHostKernelsImage = true;
            _allHostKernelsModule = LoadAllHostKernels();
            kernels = "no PTX embedded (built without a CUDA compiler), so every kernel compiled into the host library is bound";
        }

        var what = kind == DeviceKind.Cuda ? $"CUDA device {context.CuDevice}: {Name}" : $"CPU device: {Name}";
        Description = $"{what} via {api.LibraryName}; {kernels}; {choice}";
    }

    /// <summary>The kind actually opened: <see cref="DeviceKind.Cpu"/> or <see cref="DeviceKind.Cuda"/>, never Auto.</summary>
    public DeviceKind Kind { get; }

    /// <summary>The device's name as the driver reports it (the CPU device: "Sharpmax CPU grid runtime").</summary>
    public string Name { get; }

    /// <summary>What was opened, through which library, where the kernels come from, and why this device was chosen.</summary>
    public string Description { get; }

    /// <summary>The most threads a block may have (1024 on current GPUs and on the CPU device).</summary>
    public int MaxThreadsPerBlock { get; }

    /// <summary>Shared memory a block may use without opting in, in bytes (48 KiB on GPUs).</summary>
    public int MaxSharedBytesPerBlock { get; }

    /// <summary>Shared memory a block may use after opting in, in bytes; <see cref="Launch"/> opts in when needed.</summary>
    public int MaxSharedBytesPerBlockOptIn { get; }

    /// <summary>Streaming multiprocessors (GPU) or worker cores (CPU device).</summary>
    public int MultiprocessorCount { get; }

    /// <summary>
    /// Device memory allocated and not yet freed, in bytes. The CPU device reports every allocation of the host
    /// runtime in this process; the CUDA device reports the buffers of this <see cref="Device"/>.
    /// </summary>
    public unsafe long LiveBytes
    {
        get
        {
            var api = _context.Api;
            if (api.smhost_liveBytes == null)
                return _context.LiveBytes;
            nuint bytes;
            CudaCheck.Check(api, api.smhost_liveBytes(&bytes));
            return (long)bytes;
        }
    }

    /// <summary>
    /// The high-water mark of the bytes this <see cref="Device"/>'s buffers held at once since the last
    /// <see cref="ResetPeakLiveBytes"/> (or since it was opened): what an op needs at its peak, workspaces included.
    /// </summary>
    public long PeakLiveBytes => _context.PeakBytes;

    /// <summary>Starts a new high-water mark for <see cref="PeakLiveBytes"/> at the bytes held now.</summary>
    /// <returns>The bytes this device's buffers hold now: subtract it from a later <see cref="PeakLiveBytes"/> for
    /// what the work in between added at its peak.</returns>
    public long ResetPeakLiveBytes() => _context.ResetPeak();

    /// <summary>
    /// The driver operations this device was asked for since it was opened (launches, copies each way, memsets,
    /// synchronizations), counted where each call is made. Subtract two snapshots for the work in between; a
    /// snapshot's <see cref="DeviceOperationCounts.HostSynchronizations"/> says how often the host waited.
    /// </summary>
    public DeviceOperationCounts OperationCounts => Counters.Snapshot();

    /// <summary>The live counters behind <see cref="OperationCounts"/>.</summary>
    internal DeviceOperationCounters Counters { get; } = new();

    /// <summary>The kernel names declared by the embedded PTX (empty when the assembly was built without PTX).</summary>
    internal IReadOnlyList<string> PtxEntryNames { get; } = PtxImages.All.SelectMany(image => image.Entries).ToArray();

    /// <summary>True when kernels come from the host library's full list rather than from embedded PTX.</summary>
    internal bool UsesAllHostKernelsImage => _usesAllHostKernelsImage;

    internal DriverApi Api => _context.Api;

    /// <summary>Opens a device.</summary>
    /// <param name="kind">Auto (CUDA when the NVIDIA driver loads and reports a device, otherwise the CPU), Cpu or Cuda.</param>
    /// <returns>The device; <see cref="Description"/> says which one and why.</returns>
    /// <exception cref="DeviceUnavailableException">The requested device cannot be opened here; the message says why.</exception>
    /// <exception cref="CudaException">The device was found but failed to initialize or to load the kernels.</exception>
    /// <exception cref="ArgumentException"><see cref="LaunchBlockingVariable"/> is set to something other than 0 or 1.</exception>
    public static Device Open(DeviceKind kind = DeviceKind.Auto)
    {
        switch (kind)
        {
            case DeviceKind.Cuda:
            {
                var api = ProbeCuda(out var reason) ?? throw new DeviceUnavailableException($"No CUDA device: {reason}.");
                return Create(DeviceKind.Cuda, api, $"CUDA was requested ({reason})");
            }

            case DeviceKind.Cpu:
                return Create(DeviceKind.Cpu, OpenHost(), "the CPU was requested");

            case DeviceKind.Auto:
            {
                var api = ProbeCuda(out var reason);
                return api is not null
                    ? Create(DeviceKind.Cuda, api, $"auto chose CUDA: {reason}")
                    : Create(DeviceKind.Cpu, OpenHost(), $"auto chose the CPU: {reason}");
            }

            default:
                throw new ArgumentOutOfRangeException(nameof(kind), kind, "Expected Auto, Cpu or Cuda.");
        }
    }

    /// <summary>Allocates <paramref name="count"/> elements; the contents are undefined until written.</summary>
    /// <typeparam name="T">Element type.</typeparam>
    /// <param name="count">Number of elements (0 gives an empty buffer with pointer 0).</param>
    /// <returns>The buffer, owned by the caller.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="count"/> is negative.</exception>
    /// <exception cref="CudaException">The device is out of memory (CUDA_ERROR_OUT_OF_MEMORY).</exception>
    /// <exception cref="ObjectDisposedException">The device was disposed.</exception>
    public DeviceBuffer<T> Allocate<T>(long count)
        where T : unmanaged
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        var elementSize = Unsafe.SizeOf<T>();
        if (count > long.MaxValue / elementSize)
            throw new ArgumentOutOfRangeException(nameof(count), count, $"{count} elements of {elementSize} bytes overflow a 64-bit size.");
        var memory = DeviceMemoryHandle.Allocate(ContextForUse(), count * elementSize);
        return new DeviceBuffer<T>(this, count, memory);
    }

    /// <summary>Allocates <paramref name="count"/> elements with every byte zero.</summary>
    /// <typeparam name="T">Element type.</typeparam>
    /// <param name="count">Number of elements.</param>
    /// <returns>The buffer, owned by the caller.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="count"/> is negative.</exception>
    /// <exception cref="CudaException">The device is out of memory.</exception>
    /// <exception cref="ObjectDisposedException">The device was disposed.</exception>
    public DeviceBuffer<T> AllocateZeroed<T>(long count)
        where T : unmanaged
    {
        var buffer = Allocate<T>(count);
        try
        {
            buffer.Clear();
            return buffer;
        }
        catch
        {
            buffer.Dispose();
            throw;
        }
    }

    /// <summary>Allocates a buffer holding a copy of <paramref name="data"/>.</summary>
    /// <typeparam name="T">Element type.</typeparam>
    /// <param name="data">The elements to copy.</param>
    /// <returns>The buffer, owned by the caller.</returns>
    /// <exception cref="CudaException">The device is out of memory.</exception>
    /// <exception cref="ObjectDisposedException">The device was disposed.</exception>
    public DeviceBuffer<T> Upload<T>(ReadOnlySpan<T> data)
        where T : unmanaged
    {
        var buffer = Allocate<T>(data.Length);
        try
        {
            buffer.CopyFrom(data);
            return buffer;
        }
        catch
        {
            buffer.Dispose();
            throw;
        }
    }

    /// <summary>Creates an event for timing (<see cref="DeviceEvent.ElapsedMilliseconds"/>).</summary>
    /// <returns>The event, owned by the caller.</returns>
    /// <exception cref="ObjectDisposedException">The device was disposed.</exception>
    public DeviceEvent CreateEvent() => new(this, EventHandle.Create(ContextForUse()));

    /// <summary>The kernel with this entry name; looked up once, then cached.</summary>
    /// <param name="name">The entry name, for example <c>xent_fused_forward_backward_f32</c>.</param>
    /// <returns>The kernel, valid as long as the device.</returns>
    /// <exception cref="ArgumentException">No loaded module has an entry of that name.</exception>
    /// <exception cref="ObjectDisposedException">The device was disposed.</exception>
    public Kernel Kernel(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        var context = ContextForUse();
        lock (_kernels)
        {
            if (_kernels.TryGetValue(name, out var cached))
                return cached;
            nint module;
            if (_moduleOfEntry.TryGetValue(name, out var ptxModule))
            {
                module = ptxModule;
            }
            else if (_usesAllHostKernelsImage || context.Api.IsHostLibrary)
            {
                // Host-only kernels (linear.cu's _simd) are not in the PTX: the CPU device binds them by name.
                if (_allHostKernelsModule == 0)
                    _allHostKernelsModule = LoadAllHostKernels();
                module = _allHostKernelsModule;
            }
            else
            {
                throw new ArgumentException(
                    $"No kernel named '{name}' on the CUDA device (kernels exported SHARPMAX_EXPORT_HOST_ONLY run on the CPU device only): the embedded PTX declares {string.Join(", ", _moduleOfEntry.Keys.Order(StringComparer.Ordinal))}.",
                    nameof(name));
            }

            var kernel = GetFunction(context, module, name);
            _kernels.Add(name, kernel);
            return kernel;
        }
    }

    /// <summary>
    /// Launches a kernel on the default stream. The configuration is checked by the driver, so an illegal one
    /// (more threads than <see cref="MaxThreadsPerBlock"/>, an empty grid, more shared memory than
    /// <see cref="MaxSharedBytesPerBlockOptIn"/>) throws CUDA_ERROR_INVALID_VALUE on both devices.
    /// On the CPU device the launch has finished when this returns. On a GPU it is asynchronous: a fault inside the
    /// kernel surfaces at the next call that waits, against that call, unless <see cref="LaunchBlocking"/> is on.
    /// A rejected launch throws a <see cref="CudaException"/> whose <see cref="CudaException.Call"/> names the kernel,
    /// grid, block and shared memory.
    /// </summary>
    /// <param name="kernel">A kernel of this device.</param>
    /// <param name="grid">Blocks in the grid.</param>
    /// <param name="block">Threads in a block.</param>
    /// <param name="sharedBytes">Dynamic shared memory per block, in bytes; above 48 KiB minus the kernel's static shared
    /// memory (<see cref="Kernel.StaticSharedBytes"/>) the kernel opts in once.</param>
    /// <param name="args">The kernel's arguments in declaration order (at most 64).</param>
    /// <exception cref="ArgumentException">The kernel or a buffer belongs to another device, or there are too many arguments.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="sharedBytes"/> is negative.</exception>
    /// <exception cref="ObjectDisposedException">The device or a buffer argument was disposed.</exception>
    /// <exception cref="CudaException">The driver rejected the launch (CUDA_ERROR_INVALID_VALUE also when static plus
    /// dynamic shared memory exceed <see cref="MaxSharedBytesPerBlockOptIn"/>) or the kernel failed.</exception>
    public unsafe void Launch(Kernel kernel, Dim3 grid, Dim3 block, int sharedBytes, params ReadOnlySpan<KernelArg> args)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        ArgumentOutOfRangeException.ThrowIfNegative(sharedBytes);
        var context = ContextForUse();
        if (kernel.Device != this)
            throw new ArgumentException($"Kernel {kernel.Name} was loaded on another device ({kernel.Device.Description}).", nameof(kernel));
        if (args.Length > MaxKernelArgs)
            throw new ArgumentException($"{args.Length} arguments; a launch takes at most {MaxKernelArgs}.", nameof(args));

        var values = stackalloc ulong[args.Length];
        var pointers = stackalloc void*[args.Length];
        for (var i = 0; i < args.Length; i++)
        {
            if (args[i].Owner is { } owner)
            {
                if (owner.IsDisposed)
                    throw new ObjectDisposedException($"args[{i}]", $"Argument {i} of {kernel.Name} is a disposed buffer.");
                if (owner.Device != this)
                    throw new ArgumentException($"Argument {i} of {kernel.Name} is a buffer of another device ({owner.Device.Description}).", nameof(args));
            }

            // A value sits in the low bytes of its slot, which is where a little-endian read of a narrower type looks.
            values[i] = args[i].Bits;
            pointers[i] = &values[i];
        }

        // Static and dynamic shared memory share the block's limit: past the default (48 KiB − static) the kernel
        // must opt in, and the sum may not pass the opt-in maximum.
        if (sharedBytes > kernel.DynamicSharedLimit)
            AllowDynamicShared(kernel, sharedBytes);

        var api = context.Api;
        Counters.Launch();
        var launched = api.cuLaunchKernel(kernel.Function, grid.X, grid.Y, grid.Z, block.X, block.Y, block.Z, (uint)sharedBytes, 0, pointers, null);
        if (launched != 0)
            throw CudaCheck.Failure(api, launched, $"cuLaunchKernel({DescribeLaunch(kernel, grid, block, sharedBytes)})");
        if (LaunchBlocking)
        {
            Counters.Synchronization();
            var synchronized = api.cuCtxSynchronize();
            if (synchronized != 0)
                throw CudaCheck.Failure(api, synchronized,
                    $"cuCtxSynchronize() right after launching {DescribeLaunch(kernel, grid, block, sharedBytes)} ({LaunchBlockingVariable}=1: this launch failed)");
        }

        // A buffer passed only through its KernelArg must not be finalized (and freed) during the launch.
        foreach (var arg in args)
            GC.KeepAlive(arg.Owner);
    }

    /// <summary>
    /// Synchronous launches, as CUDA_LAUNCH_BLOCKING=1: <see cref="Launch"/> waits for each kernel and a kernel that
    /// faults (an illegal address, a device-side trap) throws there, its <see cref="CudaException"/> naming the
    /// kernel, grid, block and shared memory. Off by default, where a GPU reports such a fault at the next call that
    /// waits (a copy to the host, <see cref="Synchronize"/>, a later launch) against that call, and the context
    /// stays unusable (every later call fails with the same error) until the process ends. Initialized from
    /// <see cref="LaunchBlockingVariable"/>; the CPU device runs every launch to the end before returning anyway.
    /// </summary>
    public bool LaunchBlocking { get; set; }

    /// <summary>The environment variable that turns <see cref="LaunchBlocking"/> on for every device opened: "1"
    /// (on) or "0" (off, as when unset).</summary>
    public const string LaunchBlockingVariable = "SHARPMAX_LAUNCH_BLOCKING";

    /// <summary>Waits until all work launched on the device has finished; reports a kernel failure as a <see cref="CudaException"/>.</summary>
    /// <exception cref="ObjectDisposedException">The device was disposed.</exception>
    /// <exception cref="CudaException">A kernel failed.</exception>
    public unsafe void Synchronize()
    {
        var context = ContextForUse();
        Counters.Synchronization();
        CudaCheck.Check(context.Api, context.Api.cuCtxSynchronize());
    }

    /// <summary>Releases the device's context; it is released for good once the last buffer and event are freed.</summary>
    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        _context.Dispose();
    }

    /// <inheritdoc/>
    public override string ToString() => Description;

    /// <summary>CPU device only: 0 runs the threads of a block in index order; any other seed shuffles them between
    /// barriers and fills dynamic shared memory with NaN bytes, to expose missing barriers.</summary>
    internal unsafe void SetScheduleSeed(ulong seed)
    {
        var context = ContextForUse();
        var api = CpuOnly(context, nameof(SetScheduleSeed));
        CudaCheck.Check(api, api.smhost_setScheduleSeed(seed));
    }

    /// <summary>CPU device only: the runtime's checked mode, which fails a launch on what a GPU would turn into a
    /// fault (a write past the end of an allocation: CUDA_ERROR_ILLEGAL_ADDRESS).</summary>
    internal unsafe void SetCheckedMode(bool on)
    {
        var context = ContextForUse();
        var api = CpuOnly(context, nameof(SetCheckedMode));
        CudaCheck.Check(api, api.smhost_setCheckedMode(on ? 1 : 0));
    }

    /// <summary>CPU device only: whether the runtime's checked mode is on (SHARPMAX_CHECKED=1 at load, or
    /// <see cref="SetCheckedMode"/>).</summary>
    internal unsafe bool IsCheckedMode()
    {
        var context = ContextForUse();
        var api = CpuOnly(context, nameof(IsCheckedMode));
        return api.smhost_checkedMode() != 0;
    }

    /// <summary>CPU device only: worker threads that run blocks in parallel (0: one per core).</summary>
    internal unsafe void SetWorkerCount(int workers)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(workers);
        var context = ContextForUse();
        var api = CpuOnly(context, nameof(SetWorkerCount));
        CudaCheck.Check(api, api.smhost_setWorkerCount(workers));
    }

    /// <summary>CPU device only: a kernel compiled into the host library that the PTX may lack (a test-only kernel).</summary>
    internal Kernel HostKernel(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        var context = ContextForUse();
        CpuOnly(context, nameof(HostKernel));
        lock (_kernels)
        {
            if (_kernels.TryGetValue(name, out var cached))
                return cached;
            if (_allHostKernelsModule == 0)
                _allHostKernelsModule = LoadAllHostKernels();
            var kernel = GetFunction(context, _allHostKernelsModule, name);
            _kernels.Add(name, kernel);
            return kernel;
        }
    }

    /// <summary>A device attribute (cuDeviceGetAttribute).</summary>
    internal unsafe int GetAttribute(DeviceAttribute attribute)
    {
        var context = _context;
        int value;
        CudaCheck.Check(context.Api, context.Api.cuDeviceGetAttribute(&value, (int)attribute, context.CuDevice));
        return value;
    }

    /// <summary>The context, current on this thread, for a call on this device.</summary>
    /// <exception cref="ObjectDisposedException">The device was disposed.</exception>
    internal PrimaryContextHandle ContextForUse()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _context.MakeCurrent();
        return _context;
    }

    /// <summary>Reads <see cref="LaunchBlockingVariable"/>: unset, empty or "0" is off, "1" on.</summary>
    /// <exception cref="ArgumentException">Any other value (the message quotes it).</exception>
    internal static bool LaunchBlockingFromEnvironment(string? value) => value?.Trim() switch
    {
        null or "" or "0" => false,
        "1" => true,
        _ => throw new ArgumentException($"{LaunchBlockingVariable} is '{value}'; expected 1 (synchronous launches) or 0.", nameof(value)),
    };

    private static string DescribeLaunch(Kernel kernel, Dim3 grid, Dim3 block, int sharedBytes) =>
        $"{kernel.Name}, grid ({grid.X}, {grid.Y}, {grid.Z}), block ({block.X}, {block.Y}, {block.Z}), {sharedBytes} bytes of dynamic shared memory";

    private static unsafe Device Create(DeviceKind kind, DriverApi api, string choice)
    {
        bool blocking = LaunchBlockingFromEnvironment(Environment.GetEnvironmentVariable(LaunchBlockingVariable));
        int device;
        CudaCheck.Check(api, api.cuDeviceGet(&device, 0));
        var context = PrimaryContextHandle.Retain(api, device);
        try
        {
            return new Device(kind, context, choice) { LaunchBlocking = blocking };
        }
        catch
        {
            context.Dispose();
            throw;
        }
    }

    /// <summary>The NVIDIA driver when it loads, initializes and reports a device and the assembly has PTX;
    /// otherwise null. <paramref name="reason"/> says what was found either way.</summary>
    private static unsafe DriverApi? ProbeCuda(out string reason)
    {
        var api = DriverLibraries.TryCuda(out var failure);
        if (api is null)
        {
            reason = $"the NVIDIA driver is not installed ({failure})";
            return null;
        }

        var init = api.cuInit(0);
        if (init != 0)
        {
            reason = $"{api.LibraryName} loaded, but cuInit failed with {api.ErrorName(init) ?? init.ToString(System.Globalization.CultureInfo.InvariantCulture)} ({api.ErrorString(init)})";
            return null;
        }

        int count;
        var counted = api.cuDeviceGetCount(&count);
        if (counted != 0 || count <= 0)
        {
            reason = counted != 0
                ? $"{api.LibraryName} loaded, but cuDeviceGetCount failed with {api.ErrorName(counted)}"
                : $"{api.LibraryName} loaded, but it reports no CUDA device";
            return null;
        }

        if (PtxImages.All.Count == 0)
        {
            reason = $"{api.LibraryName} reports {count} device(s), but this Sharpmax assembly was built without a CUDA compiler and has no PTX to run";
            return null;
        }

        reason = $"{api.LibraryName} reports {count} device(s)";
        return api;
    }

    private static unsafe DriverApi OpenHost()
    {
        var api = DriverLibraries.TryHost(out var failure)
            ?? throw new DeviceUnavailableException($"No CPU device: {failure}. Build (or rebuild) it with ./build.sh, CMake target sharpmax_host.");
        CudaCheck.Check(api, api.cuInit(0));
        return api;
    }

    private static unsafe string ReadName(DriverApi api, int device)
    {
        var name = stackalloc byte[256];
        CudaCheck.Check(api, api.cuDeviceGetName(name, 256, device));
        return Encoding.UTF8.GetString(name, new ReadOnlySpan<byte>(name, 256).IndexOf((byte)0) is var end and >= 0 ? end : 256);
    }

    private static DriverApi CpuOnly(PrimaryContextHandle context, string what) =>
        context.Api.IsHostLibrary ? context.Api : throw new NotSupportedException($"{what} exists only on the CPU device.");

    private unsafe Kernel GetFunction(PrimaryContextHandle context, nint module, string name)
    {
        var utf8 = Encoding.UTF8.GetBytes(name + "\0");
        nint function;
        int result;
        fixed (byte* namePointer = utf8)
            result = context.Api.cuModuleGetFunction(&function, module, namePointer);
        if (result == (int)CudaError.NotFound)
        {
            var detail = context.Api.LastErrorDetail();
            throw new ArgumentException($"No kernel named '{name}' on the {Kind} device.{(detail.Length > 0 ? " " + detail : "")}", nameof(name));
        }

        CudaCheck.Check(context.Api, result, $"cuModuleGetFunction(&function, module, \"{name}\")");
        return new Kernel(this, name, function,
            FunctionAttribute(context.Api, function, DriverApi.FuncAttributeMaxThreadsPerBlock, "CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK", name),
            FunctionAttribute(context.Api, function, DriverApi.FuncAttributeSharedSizeBytes, "CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES", name),
            FunctionAttribute(context.Api, function, DriverApi.FuncAttributeMaxDynamicSharedSizeBytes, "CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES", name));
    }

    private static unsafe int FunctionAttribute(DriverApi api, nint function, int attribute, string attributeName, string kernelName)
    {
        int value;
        CudaCheck.Check(api, api.cuFuncGetAttribute(&value, attribute, function), $"cuFuncGetAttribute(&value, {attributeName}, {kernelName})");
        return value;
    }

    private unsafe void LoadPtx(PtxImage image)
    {
        var api = _context.Api;
        nint module;
        int result;
        var call = $"cuModuleLoadDataEx(&module, {image.ResourceName}, …)";
        fixed (byte* text = image.Image)
        {
            if (api.IsHostLibrary)
            {
                result = api.cuModuleLoadDataEx(&module, text, 0, null, null);
            }
            else
            {
                // Ask the JIT for its error log, so a PTX that fails to compile says why.
                const int logSize = 8192;
                var log = stackalloc byte[logSize];
                var options = stackalloc int[] { DriverApi.JitErrorLogBuffer, DriverApi.JitErrorLogBufferSizeBytes };
                var values = stackalloc void*[] { log, (void*)logSize };
                log[0] = 0;
                result = api.cuModuleLoadDataEx(&module, text, 2, options, values);
                if (result != 0)
                    throw CudaCheck.Failure(api, result, call, new string((sbyte*)log).Trim());
            }
        }

        CudaCheck.Check(api, result, call);
        _context.AddModule(module);
        foreach (var entry in image.Entries)
            _moduleOfEntry[entry] = module;
    }

    private unsafe nint LoadAllHostKernels()
    {
        var api = _context.Api;
        var image = Encoding.UTF8.GetBytes(DriverApi.AllHostKernelsImage + "\0");
        nint module;
        fixed (byte* text = image)
            CudaCheck.Check(api, api.cuModuleLoadDataEx(&module, text, 0, null, null), "cuModuleLoadDataEx(&module, SMHOST_ALL_KERNELS_IMAGE, …)");
        _context.AddModule(module);
        return module;
    }

    private unsafe void AllowDynamicShared(Kernel kernel, int sharedBytes)
    {
        lock (kernel)
        {
            if (sharedBytes <= kernel.DynamicSharedLimit)
                return;
            var api = _context.Api;
            CudaCheck.Check(api, api.cuFuncSetAttribute(kernel.Function, DriverApi.FuncAttributeMaxDynamicSharedSizeBytes, sharedBytes),
                $"cuFuncSetAttribute({kernel.Name}, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, {sharedBytes}) for a block with {kernel.StaticSharedBytes} bytes of static shared memory besides");
            kernel.DynamicSharedLimit = sharedBytes;
        }
    }
}
