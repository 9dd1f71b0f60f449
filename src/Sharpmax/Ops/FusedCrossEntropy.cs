namespace Sharpmax.Ops;

/// <summary>
/// Fused cross-entropy (kernels/cross_entropy.cu): one kernel per row computes the max, the log-sum-exp, the loss
/// and, when asked, the gradient, in the same pass; nothing of size N×C is kept. The kernel is chosen by
/// <see cref="RowDispatch"/>'s rules (thread per row on the CPU device; warp, block or streaming per row on CUDA),
/// or forced by <see cref="CrossEntropyOptions.Variant"/>. Launches: the row kernel and the reduction, plus the
/// count of non-ignored rows before them when a mean's gradient is asked for (with class weights, the weight
/// totals instead, on every call). The optional terms (z-loss, softcap, class weights) run in every variant.
/// Never overflows: every exponential is of x − max ≤ 0, and losses are formed as log Σ − (x − max).
/// </summary>
public sealed class FusedCrossEntropy : ICrossEntropy
{
    private const string Family = "xent_fused_forward_backward_f32";
    private readonly CrossEntropyCore _core;
    private RowPlanCache _plan;

    /// <summary>Creates the op for one device.</summary>
    /// <param name="device">The device its launches run on.</param>
    /// <param name="options">Reduction, ignore index, label smoothing, z-loss, softcap, class weights and kernel
    /// variant; defaults when null.</param>
    /// <exception cref="ArgumentOutOfRangeException">LabelSmoothing is outside [0, 1], ZLossScale is negative or not
    /// finite, or Softcap is negative or not finite.</exception>
    /// <exception cref="ArgumentException">ClassWeights lives on another device.</exception>
    public FusedCrossEntropy(Device device, CrossEntropyOptions? options = null)
    {
        _core = new CrossEntropyCore(device, options ?? new CrossEntropyOptions());
    }

    /// <inheritdoc/>
    public CrossEntropyOptions Options => _core.Options;

    /// <summary>The kernel that runs for rows of <paramref name="c"/> classes.</summary>
    /// <param name="n">Rows.</param>
    /// <param name="c">Classes.</param>
    /// <returns>The entry name, for example <c>xent_fused_forward_backward_f32_row</c>.</returns>
    public string KernelFor(int n, int c) => RowDispatch.Plan(_core.Device, Family, Options.Variant, n, c).KernelName;

    /// <inheritdoc/>
    public float Forward(DeviceBuffer<float> logits, DeviceBuffer<int> labels, int n, int c, int ld = 0, DeviceBuffer<float>? rowLoss = null) =>
        ForwardWithLogSumExp(logits, labels, n, c, null, ld, rowLoss);

    /// <summary>Loss only, also saving each row's log-sum-exp (the one float per row a later backward needs).</summary>
    /// <param name="logits">N×C logits with row stride <paramref name="ld"/>.</param>
    /// <param name="labels">N labels in [0, C), or the ignore index.</param>
    /// <param name="n">Rows N.</param>
    /// <param name="c">Classes C.</param>
    /// <param name="logSumExp">Optional: receives log Σ_c exp(x[r, c]) per row (−∞ for a row of all −∞), ignored rows
    /// included; of the softcapped logits when <see cref="CrossEntropyOptions.Softcap"/> is on.</param>
    /// <param name="ld">Row stride of the logits; 0 means C.</param>
    /// <param name="rowLoss">Optional: receives the N per-row losses (the z-loss term included).</param>
    /// <param name="rowZLoss">Optional: receives each row's z-loss term z·lse² (0 on ignored rows, and everywhere when
    /// <see cref="CrossEntropyOptions.ZLossScale"/> is 0).</param>
    /// <returns>The mean loss for <see cref="Reduction.Mean"/>, the sum of row losses otherwise.</returns>
    /// <exception cref="ArgumentException">A buffer is too small for its shape or lives on another device.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A label is out of range (message: row and value), or N, C or a stride is invalid.</exception>
    /// <exception cref="CudaException">A launch failed.</exception>
    public float ForwardWithLogSumExp(DeviceBuffer<float> logits, DeviceBuffer<int> labels, int n, int c,
        DeviceBuffer<float>? logSumExp, int ld = 0, DeviceBuffer<float>? rowLoss = null, DeviceBuffer<float>? rowZLoss = null)
    {
        (ld, _) = _core.Check(logits, labels, n, c, ld, null, 0, rowLoss);
        CheckPerRow(logSumExp, rowZLoss, n, c);
        return n == 0 ? 0f : Run(logits, labels, n, c, ld, null, 0, 1f, rowLoss, logSumExp, rowZLoss);
    }

    /// <summary>Loss and gradient as <see cref="ForwardBackward"/>, also saving each row's log-sum-exp and z-loss term.</summary>
    /// <param name="logits">N×C logits with row stride <paramref name="ld"/>.</param>
    /// <param name="labels">N labels in [0, C), or the ignore index.</param>
    /// <param name="n">Rows N.</param>
    /// <param name="c">Classes C.</param>
    /// <param name="grad">Receives the N×C gradient with row stride <paramref name="ldg"/>; must not overlap the logits.</param>
    /// <param name="logSumExp">Optional: receives each row's log-sum-exp, as in <see cref="ForwardWithLogSumExp"/>.</param>
    /// <param name="ld">Row stride of the logits; 0 means C.</param>
    /// <param name="ldg">Row stride of the gradient; 0 means C.</param>
    /// <param name="gradScale">Upstream gradient of the reduced loss (1 for a plain loss).</param>
    /// <param name="rowLoss">Optional: receives the N per-row losses.</param>
    /// <param name="rowZLoss">Optional: receives each row's z-loss term, as in <see cref="ForwardWithLogSumExp"/>.</param>
    /// <returns>The mean loss for <see cref="Reduction.Mean"/>, the sum of row losses otherwise.</returns>
    /// <exception cref="ArgumentException">A buffer is too small for its shape or lives on another device.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A label is out of range (message: row and value), or N, C or a stride is invalid.</exception>
    /// <exception cref="CudaException">A launch failed.</exception>
    public float ForwardBackwardWithLogSumExp(DeviceBuffer<float> logits, DeviceBuffer<int> labels, int n, int c, DeviceBuffer<float> grad,
        DeviceBuffer<float>? logSumExp, int ld = 0, int ldg = 0, float gradScale = 1f, DeviceBuffer<float>? rowLoss = null,
        DeviceBuffer<float>? rowZLoss = null)
    {
        ArgumentNullException.ThrowIfNull(grad);
        (ld, ldg) = _core.Check(logits, labels, n, c, ld, grad, ldg, rowLoss);
        CheckPerRow(logSumExp, rowZLoss, n, c);
        return n == 0 ? 0f : Run(logits, labels, n, c, ld, grad, ldg, gradScale, rowLoss, logSumExp, rowZLoss);
    }

    /// <inheritdoc/>
    public float ForwardBackward(DeviceBuffer<float> logits, DeviceBuffer<int> labels, int n, int c, DeviceBuffer<float> grad,
        int ld = 0, int ldg = 0, float gradScale = 1f, DeviceBuffer<float>? rowLoss = null)
    {
        ArgumentNullException.ThrowIfNull(grad);
        (ld, ldg) = _core.Check(logits, labels, n, c, ld, grad, ldg, rowLoss);
        return n == 0 ? 0f : Run(logits, labels, n, c, ld, grad, ldg, gradScale, rowLoss, null, null);
    }

    /// <inheritdoc/>
    public void ForwardInto(DeviceBuffer<float> logits, DeviceBuffer<int> labels, int n, int c, CrossEntropyTotals totals, double weight = 1,
        int ld = 0, DeviceBuffer<float>? rowLoss = null)
    {
        int ldg = 0;
        if (_core.CheckInto(logits, labels, n, c, ref ld, null, ref ldg, rowLoss, totals, weight))
            Run(logits, labels, n, c, ld, null, 0, 1f, rowLoss, null, null, totals, weight);
    }

    /// <inheritdoc/>
    public void ForwardBackwardInto(DeviceBuffer<float> logits, DeviceBuffer<int> labels, int n, int c, DeviceBuffer<float> grad,
        CrossEntropyTotals totals, double weight = 1, int ld = 0, int ldg = 0, float gradScale = 1f, DeviceBuffer<float>? rowLoss = null)
    {
        ArgumentNullException.ThrowIfNull(grad);
        if (_core.CheckInto(logits, labels, n, c, ref ld, grad, ref ldg, rowLoss, totals, weight))
            Run(logits, labels, n, c, ld, grad, ldg, gradScale, rowLoss, null, null, totals, weight);
    }

    /// <summary>Frees the workspaces.</summary>
    public void Dispose() => _core.Dispose();

    private void CheckPerRow(DeviceBuffer<float>? logSumExp, DeviceBuffer<float>? rowZLoss, int n, int c)
    {
        if (logSumExp is not null)
            RowShapes.PerRow(_core.Device, logSumExp, n, c, nameof(logSumExp), "floats");
        if (rowZLoss is not null)
            RowShapes.PerRow(_core.Device, rowZLoss, n, c, nameof(rowZLoss), "floats");
    }

    private float Run(DeviceBuffer<float> logits, DeviceBuffer<int> labels, int n, int c, int ld,
        DeviceBuffer<float>? grad, int ldg, float gradScale, DeviceBuffer<float>? rowLoss, DeviceBuffer<float>? logSumExp,
        DeviceBuffer<float>? rowZLoss, CrossEntropyTotals? totals = null, double weight = 0)
    {
        var device = _core.Device;
        var options = _core.Options;
        var plan = _plan.Get(device, Family, options.Variant, n, c);
        var loss = _core.RowLoss(rowLoss, n);
        var none = KernelArg.FromUInt64(0);
        _core.ComputeWeightTotals(labels, n, c);
        // With class weights the gradient's divisor is in the weight totals: no count of valid rows.
        var count = grad is null || options.ClassWeights is not null ? none : _core.CountForGradient(labels, n, c);
        device.Launch(device.Kernel(plan.KernelName), plan.Grid, plan.Block, plan.SharedBytes,
            logits, n, c, ld, labels, options.IgnoreIndex, options.LabelSmoothing, loss,
            logSumExp is null ? none : logSumExp, gradScale, count,
            grad is null ? none : grad, ldg, _core.StatusFor(totals),
            options.ZLossScale, options.Softcap ?? 0f, options.ClassWeights is null ? none : options.ClassWeights,
            _core.WeightTotals, rowZLoss is null ? none : rowZLoss);
        if (totals is null)
            return _core.ReduceAndCheck(loss, labels, n, c);
        _core.ReduceInto(loss, labels, n, c, totals, weight);
        return 0f;
    }
}
