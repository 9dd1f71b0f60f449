namespace Sharpmax.Ops;

/// <summary>
/// d2l's from-scratch cross-entropy, kept as the baseline: softmax (softmax.cu's three-kernel chain) into an N×C
/// workspace p, then logp = log(max(p, 1e-12)), then the gathered loss −logp[y] (so a loss is never above
/// −log 1e-12 ≈ 27.631, however wrong the logits), then a separate gradient kernel (p − target)·scale, then the
/// fixed-order reduction: six to eight launches and two N×C workspaces, reused across calls.
/// </summary>
public sealed class NaiveCrossEntropy : ICrossEntropy
{
    private readonly CrossEntropyCore _core;
    private readonly Softmax _softmax;
    private DeviceBuffer<float>? _probabilities;
    private DeviceBuffer<float>? _logProbabilities;

    /// <summary>Creates the op for one device.</summary>
    /// <param name="device">The device its launches run on.</param>
    /// <param name="options">Reduction, ignore index and label smoothing; defaults when null.</param>
    /// <exception cref="ArgumentOutOfRangeException">LabelSmoothing is outside [0, 1].</exception>
    /// <exception cref="NotSupportedException">A fused-only option (z-loss, softcap, class weights) is set.</exception>
    public NaiveCrossEntropy(Device device, CrossEntropyOptions? options = null)
    {
        if (options is { HasFusedOnlyTerms: true })
            throw new NotSupportedException("ZLossScale, Softcap and ClassWeights are fused-only: use FusedCrossEntropy.");
        _core = new CrossEntropyCore(device, options ?? new CrossEntropyOptions());
        _softmax = new Softmax(device);
    }

    /// <inheritdoc/>
    public CrossEntropyOptions Options => _core.Options;

    /// <inheritdoc/>
    public float Forward(DeviceBuffer<float> logits, DeviceBuffer<int> labels, int n, int c, int ld = 0, DeviceBuffer<float>? rowLoss = null)
    {
        (ld, _) = _core.Check(logits, labels, n, c, ld, null, 0, rowLoss);
        return n == 0 ? 0f : Run(logits, labels, n, c, ld, null, 0, 1f, rowLoss);
    }

    /// <inheritdoc/>
    public float ForwardBackward(DeviceBuffer<float> logits, DeviceBuffer<int> labels, int n, int c, DeviceBuffer<float> grad,
        int ld = 0, int ldg = 0, float gradScale = 1f, DeviceBuffer<float>? rowLoss = null)
    {
        ArgumentNullException.ThrowIfNull(grad);
        (ld, ldg) = _core.Check(logits, labels, n, c, ld, grad, ldg, rowLoss);
        return n == 0 ? 0f : Run(logits, labels, n, c, ld, grad, ldg, gradScale, rowLoss);
    }

    /// <inheritdoc/>
    public void ForwardInto(DeviceBuffer<float> logits, DeviceBuffer<int> labels, int n, int c, CrossEntropyTotals totals, double weight = 1,
        int ld = 0, DeviceBuffer<float>? rowLoss = null)
    {
        int ldg = 0;
        if (_core.CheckInto(logits, labels, n, c, ref ld, null, ref ldg, rowLoss, totals, weight))
            Run(logits, labels, n, c, ld, null, 0, 1f, rowLoss, totals, weight);
    }

    /// <inheritdoc/>
    public void ForwardBackwardInto(DeviceBuffer<float> logits, DeviceBuffer<int> labels, int n, int c, DeviceBuffer<float> grad,
        CrossEntropyTotals totals, double weight = 1, int ld = 0, int ldg = 0, float gradScale = 1f, DeviceBuffer<float>? rowLoss = null)
    {
        ArgumentNullException.ThrowIfNull(grad);
        if (_core.CheckInto(logits, labels, n, c, ref ld, grad, ref ldg, rowLoss, totals, weight))
            Run(logits, labels, n, c, ld, grad, ldg, gradScale, rowLoss, totals, weight);
    }

    /// <summary>Frees the workspaces.</summary>
    public void Dispose()
    {
        _core.Dispose();
        _softmax.Dispose();
        _probabilities?.Dispose();
        _logProbabilities?.Dispose();
    }

    private float Run(DeviceBuffer<float> logits, DeviceBuffer<int> labels, int n, int c, int ld,
        DeviceBuffer<float>? grad, int ldg, float gradScale, DeviceBuffer<float>? rowLoss,
        CrossEntropyTotals? totals = null, double weight = 0)
    {
        var device = _core.Device;
        var options = _core.Options;
        EnsureWorkspace((long)n * c);
        var p = _probabilities!;
        var logp = _logProbabilities!;
        var loss = _core.RowLoss(rowLoss, n);
        var (gridRows, blockRows) = RowDispatch.ThreadPerRow(device, n, c);

        _softmax.ForwardNaive(logits, p, n, c, ld, c);
        device.Launch(device.Kernel("xent_log_f32"), gridRows, blockRows, 0, p, n, c, c, logp, c);
        device.Launch(device.Kernel("xent_nll_gather_f32"), gridRows, blockRows, 0,
            logp, n, c, c, labels, options.IgnoreIndex, options.LabelSmoothing, loss, _core.StatusFor(totals));
        if (grad is not null)
        {
            var count = _core.CountForGradient(labels, n, c);
            device.Launch(device.Kernel("xent_backward_f32"), gridRows, blockRows, 0,
                p, n, c, c, labels, options.IgnoreIndex, options.LabelSmoothing, gradScale, count, grad, ldg);
        }
        if (totals is null)
            return _core.ReduceAndCheck(loss, labels, n, c);
        _core.ReduceInto(loss, labels, n, c, totals, weight);
        return 0f;
    }

    private void EnsureWorkspace(long elements)
    {
        if (_probabilities is not null && _probabilities.Length >= elements)
            return;
        _probabilities?.Dispose();
        _logProbabilities?.Dispose();
        _probabilities = null;
        _logProbabilities = null;
        _probabilities = _core.Device.Allocate<float>(elements);
        _logProbabilities = _core.Device.Allocate<float>(elements);
    }
}
