using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Sharpmax.GpuCheck;

/// <summary>
/// The <c>identity</c> command: what the device is (Sharpmax's description, compute capability, SMs, L2, memory
/// bandwidth attributes, driver version) and, for every kernel of every PTX file embedded in Sharpmax.dll, the
/// figures the driver JIT gave it (cuFuncGetAttribute): registers, static shared and local bytes, max threads.
/// </summary>
internal static partial class KernelFigures
{
    // CU_FUNC_ATTRIBUTE_NUM_REGS, SHARED_SIZE_BYTES, LOCAL_SIZE_BYTES, MAX_THREADS_PER_BLOCK: the CSV's columns.
    private static readonly int[] s_functionAttributes = [4, 1, 3, 0];

    private static readonly (string Name, int Id)[] s_deviceAttributes =
    [
        ("compute_capability_major", 75), ("compute_capability_minor", 76), ("multiprocessors", 16),
        ("l2_bytes", 38), ("memory_clock_khz", 36), ("bus_width_bits", 37), ("max_shared_per_block_optin", 97),
    ];

    /// <summary>Prints the identity; writes the per-kernel CSV. Returns 0, or 1 when a kernel could not be loaded.</summary>
    public static int Run(DeviceKind kind, string csvPath, TextWriter log)
    {
        using (var device = Device.Open(kind))
            log.WriteLine($"device: {device.Description}");
        var probe = DriverProbe.Open(kind);
        log.WriteLine($"driver: {probe.LibraryName}, cuDriverGetVersion {probe.DriverVersion}");
        foreach (var (name, id) in s_deviceAttributes)
            log.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name}: {probe.DeviceAttribute(id)?.ToString(CultureInfo.InvariantCulture) ?? "not reported"}"));

        var csv = new StringBuilder("ptx,kernel,registers,static_shared_bytes,local_bytes,max_threads_per_block\n");
        int kernels = 0;
        foreach (var (resource, ptx) in EmbeddedPtx())
        {
            var module = probe.LoadModule(ptx);
            foreach (Match entry in EntryLine().Matches(ptx))
            {
                string name = entry.Groups["name"].Value;
                var function = probe.Function(module, name);
                string figures = probe.HasFunctionAttributes
                    ? string.Join(',', s_functionAttributes.Select(a => probe.FunctionAttribute(function, a).ToString(CultureInfo.InvariantCulture)))
                    : "needs cuFuncGetAttribute,,,";
                csv.Append(CultureInfo.InvariantCulture, $"{Path.GetFileName(resource)},{name},{figures}\n");
                kernels++;
            }
        }
        File.WriteAllText(csvPath, csv.ToString());
        log.WriteLine(probe.HasFunctionAttributes
            ? $"kernels: {kernels} loaded through the driver, figures in {csvPath}"
            : $"kernels: {kernels} loaded; {probe.LibraryName} has no cuFuncGetAttribute, so the figures say 'needs cuFuncGetAttribute'");
        if (kernels == 0)
        {
            log.WriteLine("error: Sharpmax.dll embeds no PTX (built without nvcc?)");
            return 1;
        }
        return 0;
    }

    private static IEnumerable<(string Resource, string Text)> EmbeddedPtx()
    {
        var assembly = typeof(Device).Assembly;
        foreach (var name in assembly.GetManifestResourceNames().Where(n => n.EndsWith(".ptx", StringComparison.Ordinal)).Order(StringComparer.Ordinal))
        {
            using var stream = assembly.GetManifestResourceStream(name)!;
            using var reader = new StreamReader(stream);
            yield return (name, reader.ReadToEnd());
        }
    }

    [GeneratedRegex(@"^\s*(?:\.(?:visible|weak|extern)\s+)*\.entry\s+(?<name>[A-Za-z_$%][\w$]*)", RegexOptions.Multiline)]
    private static partial Regex EntryLine();
}
