using System.Globalization;

namespace Sharpmax.Ops;

/// <summary>How per-row losses are reduced (PyTorch's names).</summary>
public enum Reduction
{
    /// <summary>Per-row losses are the result; the gradient is that of their sum.</summary>
    None,

    /// <summary>Mean over the rows whose label is not the ignore index; 0, with a zero gradient, when every row is
    /// ignored (PyTorch gives NaN there; a padding-only batch should not poison training).</summary>
    Mean,

    /// <summary>Sum over the rows (ignored rows contribute 0).</summary>
    Sum,
}

/// <summary>Cross-entropy settings, with PyTorch's defaults and meaning.</summary>
public sealed record CrossEntropyOptions
{
    /// <summary>PyTorch's default ignore index.</summary>
    public const int DefaultIgnoreIndex = -100;

    /// <summary>How per-row losses are reduced; Mean by default.</summary>
    public Reduction Reduction { get; init; } = Reduction.Mean;

    /// <summary>A label equal to this marks a row that contributes no loss and no gradient (−100 by default).</summary>
    public int IgnoreIndex { get; init; } = DefaultIgnoreIndex;

    /// <summary>ε in [0, 1]: the target is (1 − ε)·onehot + ε/C, so the loss is (1 − ε)·nll + ε·mean_c(−log p_c).</summary>
    public float LabelSmoothing { get; init; }

    /// <summary>The fused kernel that runs (fused implementation only); Auto applies the dispatch rules.</summary>
    public RowKernelVariant Variant { get; init; } = RowKernelVariant.Auto;

    /// <summary>z ≥ 0, the z-loss scale (PaLM, Liger's <c>lse_square_scale</c>): each non-ignored row's loss gains
    /// z·lse², lse the row's log-sum-exp, and its gradient 2·z·lse·softmax. 0 (the default) is off, bitwise.
    /// Fused implementation only.</summary>
    public float ZLossScale { get; init; }

    /// <summary>cap &gt; 0: every logit becomes cap·tanh(x / cap) before anything else (Gemma 2's final-logit
    /// softcapping), and the gradient gets the chain factor 1 − tanh²(x / cap). Null or 0 (the default) is off,
    /// bitwise. Fused implementation only.</summary>
    public float? Softcap { get; init; }

    /// <summary>PyTorch's <c>weight</c>: C floats on the op's device, one per class (at least C; the first C are
    /// used). A row's loss is scaled by w[y] (label smoothing weights its class-j term by w[j]) and a mean divides
    /// by Σ w[y] over the non-ignored rows (0 when that is 0). Null (the default) is off. Fused implementation only.</summary>
    public DeviceBuffer<float>? ClassWeights { get; init; }

    /// <summary>True when a fused-only term (z-loss, softcap, class weights) is on.</summary>
    internal bool HasFusedOnlyTerms => ZLossScale != 0f || (Softcap ?? 0f) != 0f || ClassWeights is not null;
}

/// <summary>
/// Softmax cross-entropy of N×C logits against int32 labels: loss_r = lse_r − x[r, y_r] (with label smoothing,
/// (1 − ε)·that + ε·mean_c(lse_r − x[r, c])), and its gradient (softmax − target)·scale written to a caller buffer.
/// Results are bitwise reproducible on one device (fixed-order reductions, no float atomics).
/// A label outside [0, C) that is not the ignore index is detected on the device and thrown as an
/// <see cref="ArgumentOutOfRangeException"/> naming the smallest such row and its value; the device keeps working.
/// Implementations allocate their workspaces on first use, grow them only for larger shapes, and are not thread-safe.
/// </summary>
public interface ICrossEntropy : IDisposable
{
    /// <summary>The settings this instance was created with.</summary>
    CrossEntropyOptions Options { get; }

    /// <summary>Loss only.</summary>
    /// <param name="logits">N×C logits with row stride <paramref name="ld"/>.</param>
    /// <param name="labels">N labels in [0, C), or the ignore index.</param>
    /// <param name="n">Rows N (0 returns 0 without a launch).</param>
    /// <param name="c">Classes C, at least 1.</param>
    /// <param name="ld">Row stride of the logits in floats; 0 means C.</param>
    /// <param name="rowLoss">Optional: receives the N per-row losses (0 on ignored rows).</param>
    /// <returns>The mean loss for <see cref="Reduction.Mean"/>, the sum of row losses otherwise.</returns>
    /// <exception cref="ArgumentException">A buffer is too small for its shape or lives on another device.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A label is out of range (message: row and value), or N, C or a stride is invalid.</exception>
    /// <exception cref="CudaException">A launch failed.</exception>
    float Forward(DeviceBuffer<float> logits, DeviceBuffer<int> labels, int n, int c, int ld = 0, DeviceBuffer<float>? rowLoss = null);

    /// <summary>Loss and gradient: grad = ∂(reduced loss)/∂logits · <paramref name="gradScale"/>, i.e.
    /// (softmax − target)·gradScale/count for Mean (count = non-ignored rows) and (softmax − target)·gradScale
    /// for Sum and None; rows that are ignored get zeros.</summary>
    /// <param name="logits">N×C logits with row stride <paramref name="ld"/>.</param>
    /// <param name="labels">N labels in [0, C), or the ignore index.</param>
    /// <param name="n">Rows N (0 returns 0 without a launch).</param>
    /// <param name="c">Classes C, at least 1.</param>
    /// <param name="grad">Receives the N×C gradient with row stride <paramref name="ldg"/>; must not overlap the logits.</param>
    /// <param name="ld">Row stride of the logits in floats; 0 means C.</param>
    /// <param name="ldg">Row stride of the gradient in floats; 0 means C.</param>
    /// <param name="gradScale">Upstream gradient of the reduced loss (1 for a plain loss).</param>
    /// <param name="rowLoss">Optional: receives the N per-row losses.</param>
    /// <returns>The mean loss for <see cref="Reduction.Mean"/>, the sum of row losses otherwise.</returns>
    /// <exception cref="ArgumentException">A buffer is too small for its shape or lives on another device.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A label is out of range (message: row and value), or N, C or a stride is invalid.</exception>
    /// <exception cref="CudaException">A launch failed.</exception>
    float ForwardBackward(DeviceBuffer<float> logits, DeviceBuffer<int> labels, int n, int c, DeviceBuffer<float> grad,
        int ld = 0, int ldg = 0, float gradScale = 1f, DeviceBuffer<float>? rowLoss = null);

    /// <summary>The device-side form of <see cref="Forward"/>: the same launches, but the reduced loss × <paramref name="weight"/>
    /// is added to <paramref name="totals"/> on the device, with a bad label or a non-finite loss recorded there
    /// against this call, and nothing is read back: the call queues its kernels and returns without waiting.
    /// <see cref="CrossEntropyTotals.Read"/> gives the numbers; they are those of the synchronous form.</summary>
    /// <param name="logits">N×C logits with row stride <paramref name="ld"/>.</param>
    /// <param name="labels">N labels in [0, C), or the ignore index.</param>
    /// <param name="n">Rows N (0 counts a call that adds 0).</param>
    /// <param name="c">Classes C, at least 1.</param>
    /// <param name="totals">Totals of this device that the call adds to.</param>
    /// <param name="weight">Multiplies the reduced loss before it is added (the rows of a batch, to sum a mean; 1 for a sum). Finite.</param>
    /// <param name="ld">Row stride of the logits in floats; 0 means C.</param>
    /// <param name="rowLoss">Optional: receives the N per-row losses (0 on ignored rows).</param>
    /// <exception cref="ArgumentException">A buffer or the totals are too small or live on another device, or the weight is not finite.</exception>
    /// <exception cref="ArgumentOutOfRangeException">N, C or a stride is invalid (a bad label is recorded in the totals, not thrown).</exception>
    /// <exception cref="CudaException">A launch failed.</exception>
    void ForwardInto(DeviceBuffer<float> logits, DeviceBuffer<int> labels, int n, int c, CrossEntropyTotals totals, double weight = 1,
        int ld = 0, DeviceBuffer<float>? rowLoss = null);

    /// <summary>The device-side form of <see cref="ForwardBackward"/>: the same launches and gradient, but the reduced
    /// loss × <paramref name="weight"/> is added to <paramref name="totals"/> on the device, with a bad label or a
    /// non-finite loss recorded there against this call, and nothing is read back, so the call does not wait.</summary>
    /// <param name="logits">N×C logits with row stride <paramref name="ld"/>.</param>
    /// <param name="labels">N labels in [0, C), or the ignore index.</param>
    /// <param name="n">Rows N (0 counts a call that adds 0).</param>
    /// <param name="c">Classes C, at least 1.</param>
    /// <param name="grad">Receives the N×C gradient with row stride <paramref name="ldg"/>; must not overlap the logits.</param>
    /// <param name="totals">Totals of this device that the call adds to.</param>
    /// <param name="weight">Multiplies the reduced loss before it is added (the rows of a batch, to sum a mean; 1 for a sum). Finite.</param>
    /// <param name="ld">Row stride of the logits in floats; 0 means C.</param>
    /// <param name="ldg">Row stride of the gradient in floats; 0 means C.</param>
    /// <param name="gradScale">Upstream gradient of the reduced loss (1 for a plain loss).</param>
    /// <param name="rowLoss">Optional: receives the N per-row losses.</param>
    /// <exception cref="ArgumentException">A buffer or the totals are too small or live on another device, or the weight is not finite.</exception>
    /// <exception cref="ArgumentOutOfRangeException">N, C or a stride is invalid (a bad label is recorded in the totals, not thrown).</exception>
    /// <exception cref="CudaException">A launch failed.</exception>
    void ForwardBackwardInto(DeviceBuffer<float> logits, DeviceBuffer<int> labels, int n, int c, DeviceBuffer<float> grad,
        CrossEntropyTotals totals, double weight = 1, int ld = 0, int ldg = 0, float gradScale = 1f, DeviceBuffer<float>? rowLoss = null);
}

/// <summary>
/// What both implementations share: argument checks, the per-row loss and result workspaces, the count of
/// non-ignored rows, the fixed-order reduction and the label status read back after the launches.
/// </summary>
internal sealed class CrossEntropyCore : IDisposable
{
    // Result buffer layout (ints): [0..1] the label status (u64, see cross_entropy.cu), [2] the reduced loss
    // (float bits), [3] the count of non-ignored rows, [4..5] the class-weight totals (two floats, from
    // xent_weight_sum_f32). One copy to the host reads all of it.
    private const int StatusOffset = 0;
    private const int LossOffset = 2;
    private const int CountOffset = 3;
    private const int WeightTotalsOffset = 4;
    private const int ResultInts = 6;

    private readonly DeviceBuffer<int> _result;
    private DeviceBuffer<float>? _rowLoss;
    private bool _statusMayBeSet;
    private bool _disposed;

    public CrossEntropyCore(Device device, CrossEntropyOptions options)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(options);
        if (!(options.LabelSmoothing >= 0f && options.LabelSmoothing <= 1f))
            throw new ArgumentOutOfRangeException(nameof(options), options.LabelSmoothing, "LabelSmoothing must be in [0, 1].");
        if (options.Reduction is not (Reduction.None or Reduction.Mean or Reduction.Sum))
            throw new ArgumentOutOfRangeException(nameof(options), options.Reduction, "Unknown reduction.");
        if (!(float.IsFinite(options.ZLossScale) && options.ZLossScale >= 0f))
            throw new ArgumentOutOfRangeException(nameof(options), options.ZLossScale, "ZLossScale must be finite and at least 0.");
        if (options.Softcap is float cap && !(cap == 0f || (float.IsFinite(cap) && cap > 0f)))
            throw new ArgumentOutOfRangeException(nameof(options), cap, "Softcap must be null, 0 (off) or finite and above 0.");
        if (options.ClassWeights is { } weights)
            RowShapes.SameDevice(device, weights.Device, nameof(CrossEntropyOptions.ClassWeights));
        Device = device;
        Options = options;
        _result = device.AllocateZeroed<int>(ResultInts);
    }

    public Device Device { get; }

    public CrossEntropyOptions Options { get; }

    /// <summary>The label status for a row kernel. A status left set by the previous call (a bad label, or a
    /// CudaException between that launch and the status read) is cleared here. Only the status's two ints are
    /// cleared: the count of valid rows beside it may already hold this call's value (the fused path counts first).</summary>
    public KernelArg Status
    {
        get
        {
            if (_statusMayBeSet)
            {
                ReadOnlySpan<int> zeros = [0, 0];
                _result.CopyFrom(zeros, StatusOffset);
            }
            _statusMayBeSet = true;
            return _result.At(StatusOffset);
        }
    }

    public KernelArg ValidCount => _result.At(CountOffset);

    /// <summary>The class-weight totals the fused kernel and the reduction read, or a null pointer without class weights.</summary>
    public KernelArg WeightTotals => Options.ClassWeights is null ? KernelArg.FromUInt64(0) : _result.At(WeightTotalsOffset);

    /// <summary>Checks the class weights against C and launches xent_weight_sum_f32 (Σ_c w_c and a mean's divisor
    /// Σ w_y); a no-op without class weights.</summary>
    public void ComputeWeightTotals(DeviceBuffer<int> labels, int n, int c)
    {
        if (Options.ClassWeights is not { } weights)
            return;
        int threads = RowDispatch.ReduceThreads(Device);
        int mean = Options.Reduction == Reduction.Mean ? 1 : 0;
        Device.Launch(Device.Kernel("xent_weight_sum_f32"), 1, threads, 0, labels, n, c, Options.IgnoreIndex, weights, mean, WeightTotals);
    }

    /// <summary>Checks that the class weights, if any, hold C floats.</summary>
    public void CheckClassWeights(int c)
    {
        if (Options.ClassWeights is { } weights && weights.Length < c)
            throw new ArgumentException(
                string.Create(CultureInfo.InvariantCulture, $"ClassWeights holds {weights.Length} floats, but the logits have C = {c} classes: one per class needs {c}."));
    }

    /// <summary>The label status for a row kernel: the per-call slot of <paramref name="totals"/> for a device-side
    /// call (the accumulating reduction clears it), else <see cref="Status"/>.</summary>
    public KernelArg StatusFor(CrossEntropyTotals? totals) => totals is null ? Status : totals.Status;

    /// <summary>Checks the totals of a device-side call.</summary>
    public void CheckTotals(CrossEntropyTotals totals, double weight)
    {
        ArgumentNullException.ThrowIfNull(totals);
        if (totals.Device != Device)
            throw new ArgumentException($"The totals belong to another device ({totals.Device.Description}).", nameof(totals));
        if (!double.IsFinite(weight))
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"The weight is {weight}; it must be finite."), nameof(weight));
    }

    /// <summary>Reduces the per-row losses into <paramref name="totals"/> on the device; reads nothing back.
    /// A null <paramref name="rowLoss"/> (with N = 0) counts a call that adds 0.</summary>
    public void ReduceInto(DeviceBuffer<float>? rowLoss, DeviceBuffer<int> labels, int n, int c, CrossEntropyTotals totals, double weight)
    {
        int threads = RowDispatch.ReduceThreads(Device);
        int mean = Options.Reduction == Reduction.Mean ? 1 : 0;
        Device.Launch(Device.Kernel("xent_reduce_accumulate_f32"), 1, threads, 0,
            rowLoss is null ? KernelArg.FromUInt64(0) : rowLoss, labels, n, c, Options.IgnoreIndex, mean, weight, totals.Argument,
            rowLoss is null ? KernelArg.FromUInt64(0) : WeightTotals);
    }

    /// <summary>Checks a device-side call (<c>ForwardInto</c>, <c>ForwardBackwardInto</c>) and resolves its
    /// strides; for N = 0 it also adds the empty call to the totals and returns false: there is no pass to run.</summary>
    public bool CheckInto(DeviceBuffer<float> logits, DeviceBuffer<int> labels, int n, int c, ref int ld,
        DeviceBuffer<float>? grad, ref int ldg, DeviceBuffer<float>? rowLoss, CrossEntropyTotals totals, double weight)
    {
        (ld, ldg) = Check(logits, labels, n, c, ld, grad, ldg, rowLoss);
        CheckTotals(totals, weight);
        if (n > 0) return true;
        ReduceInto(null, labels, 0, c, totals, weight);
        return false;
    }

    /// <summary>Checks the arguments of a call and returns the resolved strides.</summary>
    public (int Ld, int Ldg) Check(DeviceBuffer<float> logits, DeviceBuffer<int> labels, int n, int c, int ld,
        DeviceBuffer<float>? grad, int ldg, DeviceBuffer<float>? rowLoss)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ld = RowShapes.Stride(n, c, ld, nameof(ld));
        CheckClassWeights(c);
        RowShapes.Matrix(Device, logits, n, c, ld, nameof(logits), "the logits");
        RowShapes.PerRow(Device, labels, n, c, nameof(labels), "labels");
        if (rowLoss is not null)
            RowShapes.PerRow(Device, rowLoss, n, c, nameof(rowLoss), "floats");
        if (grad is not null)
        {
            if (ReferenceEquals(grad, logits))
                throw new ArgumentException("The gradient cannot overwrite the logits: the kernels read a row again after writing its gradient.", nameof(grad));
            ldg = RowShapes.Stride(n, c, ldg, nameof(ldg));
            RowShapes.Matrix(Device, grad, n, c, ldg, nameof(grad), "the gradient (the logits' shape)");
        }
        return (ld, ldg);
    }

    /// <summary>The caller's per-row loss buffer, or the workspace one (grown to N floats).</summary>
    public DeviceBuffer<float> RowLoss(DeviceBuffer<float>? callerBuffer, int n)
    {
        if (callerBuffer is not null)
            return callerBuffer;
        if (_rowLoss is null || _rowLoss.Length < n)
        {
            _rowLoss?.Dispose();
            _rowLoss = null;
            _rowLoss = Device.Allocate<float>(n);
        }
        return _rowLoss;
    }

    /// <summary>Launches the count of non-ignored rows when the gradient is scaled by it (a mean); returns the
    /// count's address for the gradient kernel, or a null pointer.</summary>
    public KernelArg CountForGradient(DeviceBuffer<int> labels, int n, int c)
    {
        if (Options.Reduction != Reduction.Mean)
            return KernelArg.FromUInt64(0);
        int threads = RowDispatch.ReduceThreads(Device);
        Device.Launch(Device.Kernel("xent_count_valid_i32"), 1, threads, 0, labels, n, c, Options.IgnoreIndex, ValidCount);
        return ValidCount;
    }

    /// <summary>Reduces the per-row losses, reads the result and the label status back, and throws on a bad label.</summary>
    public float ReduceAndCheck(DeviceBuffer<float> rowLoss, DeviceBuffer<int> labels, int n, int c)
    {
        int threads = RowDispatch.ReduceThreads(Device);
        int mean = Options.Reduction == Reduction.Mean ? 1 : 0;
        Device.Launch(Device.Kernel("xent_reduce_f32"), 1, threads, 0, rowLoss, labels, n, c, Options.IgnoreIndex, mean,
            _result.At(LossOffset), WeightTotals);
        Span<int> result = stackalloc int[ResultInts];
        _result.CopyTo(result);
        ulong status = (uint)result[StatusOffset] | ((ulong)(uint)result[StatusOffset + 1] << 32);
        _statusMayBeSet = status != 0;
        if (status != 0)
        {
            ulong key = ~status;
            int row = (int)(key >> 32), label = (int)(uint)key;
            throw new ArgumentOutOfRangeException(nameof(labels), label, CrossEntropyTotals.BadLabelMessage(row, label, c, Options.IgnoreIndex));
        }
        return BitConverter.Int32BitsToSingle(result[LossOffset]);
    }

    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        _rowLoss?.Dispose();
        _result.Dispose();
    }
}
