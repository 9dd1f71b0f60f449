using System.Globalization;
using System.Runtime.InteropServices;

namespace Sharpmax.Ops;

/// <summary>
/// What <see cref="CrossEntropyTotals.Read"/> found: the totals of the calls since the last reset.
/// </summary>
/// <param name="Calls">Calls accumulated since the reset; the indices below count from 0 in call order.</param>
/// <param name="LossSum">Σ reduced loss × weight over those calls, summed in double in call order: exactly what
/// <c>sum += (double)ForwardBackward(…) * weight</c> gives on the host (the product is exact for whole weights
/// below 2²⁹).</param>
/// <param name="BadLabel">The first call that met a label outside [0, C) that is not the ignore index, with
/// the smallest such row and its label; null when there was none.</param>
/// <param name="NonFinite">The first call whose reduced loss was NaN or infinite, with that loss; null when none.</param>
public sealed record CrossEntropyTotalsResult(int Calls, double LossSum, CrossEntropyBadLabel? BadLabel, CrossEntropyNonFinite? NonFinite);

/// <summary>A bad label found by a device-side call: the call's index since the reset, the row and the label.</summary>
/// <param name="Call">Index of the call since the reset, from 0.</param>
/// <param name="Row">The smallest bad row of that call.</param>
/// <param name="Label">Its label.</param>
public sealed record CrossEntropyBadLabel(int Call, int Row, int Label);

/// <summary>A NaN or infinite reduced loss found by a device-side call.</summary>
/// <param name="Call">Index of the call since the reset, from 0.</param>
/// <param name="Loss">The call's reduced loss.</param>
public sealed record CrossEntropyNonFinite(int Call, float Loss);

/// <summary>
/// Device-side totals of a sequence of cross-entropy calls (<see cref="ICrossEntropy.ForwardBackwardInto"/>,
/// <see cref="ICrossEntropy.ForwardInto"/>): the reduction kernel adds each call's loss × weight to a double sum,
/// records the first call with a bad label and the first with a non-finite loss, and clears the call's label
/// status, all on the device, so the calls queue without a copy or a wait. <see cref="Read"/> copies the totals
/// into page-locked host memory: one device→host copy for any number of calls. Not thread-safe.
/// </summary>
public sealed class CrossEntropyTotals : IDisposable
{
    private readonly DeviceBuffer<Layout> _totals;
    private readonly PinnedHostBuffer<Layout> _host;

    /// <summary>Allocates zeroed totals on <paramref name="device"/>.</summary>
    /// <param name="device">The device of the calls that will add to it.</param>
    /// <exception cref="CudaException">The device is out of memory.</exception>
    public CrossEntropyTotals(Device device)
    {
        ArgumentNullException.ThrowIfNull(device);
        Device = device;
        _totals = device.AllocateZeroed<Layout>(1);
        try
        {
            _host = PinnedHostBuffer<Layout>.Allocate(device, 1);
        }
        catch
        {
            _totals.Dispose();
            throw;
        }
    }

    /// <summary>The device the totals live on.</summary>
    public Device Device { get; }

    /// <summary>The per-call label status a row kernel reports into (the reduction clears it).</summary>
    internal KernelArg Status => new(_totals.Pointer + (ulong)Marshal.OffsetOf<Layout>(nameof(Layout.Status)), _totals);

    /// <summary>The totals, as the accumulating reduction takes them.</summary>
    internal KernelArg Argument => _totals;

    /// <summary>Zeroes the totals on the device (one memset, no wait).</summary>
    /// <exception cref="ObjectDisposedException">The totals were disposed.</exception>
    public void Reset() => _totals.Clear();

    /// <summary>Copies the totals to the host (one blocking device→host copy, after the calls queued before it).</summary>
    /// <returns>The totals of the calls since the reset.</returns>
    /// <exception cref="ObjectDisposedException">The totals were disposed.</exception>
    /// <exception cref="CudaException">A queued launch failed.</exception>
    public CrossEntropyTotalsResult Read()
    {
        _totals.CopyTo(_host.Span);
        var totals = _host.Span[0];
        CrossEntropyBadLabel? bad = null;
        if (totals.BadLabelCall != 0)
        {
            ulong key = ~totals.BadLabel;
            bad = new CrossEntropyBadLabel(totals.BadLabelCall - 1, (int)(key >> 32), (int)(uint)key);
        }
        var nonFinite = totals.NonFiniteCall == 0 ? null : new CrossEntropyNonFinite(totals.NonFiniteCall - 1, totals.NonFiniteLoss);
        return new CrossEntropyTotalsResult(totals.Calls, totals.LossSum, bad, nonFinite);
    }

    /// <summary>The message of a bad label, as the synchronous form throws it.</summary>
    internal static string BadLabelMessage(int row, int label, int c, int ignoreIndex) => string.Create(CultureInfo.InvariantCulture,
        $"Label {label} of row {row} is outside [0, {c}) and is not the ignore index {ignoreIndex} (the first such row).");

    /// <summary>Frees the device and host memory.</summary>
    public void Dispose()
    {
        _host.Dispose();
        _totals.Dispose();
    }

    /// <summary>struct xent_totals of kernels/cross_entropy.cu, field for field.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct Layout
    {
        public double LossSum;
        public ulong Status;
        public ulong BadLabel;
        public int Calls;
        public int BadLabelCall;
        public int NonFiniteCall;
        public float NonFiniteLoss;
    }
}
