using static Sharpmax.Ops.MatrixChecks;

namespace Sharpmax.Ops;

/// <summary>Which kernels of kernels/train_step.cu a <see cref="SoftmaxRegressionStep"/> runs.</summary>
public enum SoftmaxRegressionStepVariant
{
    /// <summary>The device's fast kernel: <see cref="Block"/> on a GPU, <see cref="Simd"/> on the CPU device.</summary>
    Fast,

    /// <summary>A 256-thread block per part of the batch, with barriers (<c>_block</c>): the GPU kernel. The CPU
    /// device runs its threads as fibers: correct there, but slow.</summary>
    Block,

    /// <summary>One thread per worker, vector loops over k (<c>_simd</c>): the CPU device's kernel, compiled for it only.</summary>
    Simd,
}

/// <summary>
/// One SGD step of softmax regression on a batch of u8 images, fused (kernels/train_step.cu): the logits
/// X·W + b, the fused cross-entropy and its gradient, dW = Xᵀ·G and db = Σ_rows G, and the update
/// W ← W − lr·(dW + weightDecay·W), b ← b − lr·db, in two launches that read the batch's bytes once. The same
/// step as <see cref="Linear.Forward(PixelRows, DeviceMatrix, DeviceBuffer{float}?, DeviceMatrix)"/>,
/// <see cref="FusedCrossEntropy.ForwardBackward"/>, <see cref="Linear.BackwardWeight(PixelRows, DeviceMatrix, DeviceMatrix)"/>,
/// <see cref="Linear.BackwardBias"/> and two <see cref="Sgd.Step"/>s, within float rounding (dW is summed in parts of
/// <see cref="PartRows"/> rows, then over the parts). Bitwise the same run to run on one device.
/// </summary>
/// <remarks>
/// The cross-entropy takes the options' reduction (Mean or Sum), ignore index and label smoothing; z-loss, softcap
/// and class weights need the unfused step. C is at most <see cref="MaxClasses"/> and K at most
/// <see cref="MaxInputs"/> on every device, so a program that runs on the CPU device runs on a GPU.
/// </remarks>
public sealed class SoftmaxRegressionStep : IDisposable
{
    /// <summary>The most classes (C) a step takes: the kernels keep a row's logits and gradient in registers.</summary>
    public const int MaxClasses = 16;

    /// <summary>The most inputs (K) a step takes: the CPU kernel keeps Wᵀ in a local block.</summary>
    public const int MaxInputs = 1024;

    /// <summary>Rows per part of the batch: dW and db are summed over each part's rows in order, then over the parts.</summary>
    public const int PartRows = 64;

    private const int BlockThreads = 256;

    private readonly CrossEntropyCore _core;
    private readonly string _kernel;
    private DeviceBuffer<float>? _partWeights;
    private DeviceBuffer<float>? _partBias;

    /// <summary>Creates the op for one device.</summary>
    /// <param name="device">The device its launches run on.</param>
    /// <param name="options">The cross-entropy's settings (default: mean, no smoothing).</param>
    /// <param name="variant">The kernel to run; <see cref="SoftmaxRegressionStepVariant.Fast"/> picks by device kind.</param>
    /// <exception cref="ArgumentOutOfRangeException">An option or the variant is out of range.</exception>
    /// <exception cref="ArgumentException">The options ask for a term the fused step does not have (no reduction, z-loss,
    /// softcap, class weights), or <paramref name="variant"/> is Simd on a CUDA device.</exception>
    public SoftmaxRegressionStep(Device device, CrossEntropyOptions? options = null, SoftmaxRegressionStepVariant variant = SoftmaxRegressionStepVariant.Fast)
    {
        ArgumentNullException.ThrowIfNull(device);
        if (!Enum.IsDefined(variant))
            throw new ArgumentOutOfRangeException(nameof(variant), variant, "Not a SoftmaxRegressionStepVariant.");
        if (variant == SoftmaxRegressionStepVariant.Simd && device.Kind == DeviceKind.Cuda)
            throw new ArgumentException("The _simd kernel is compiled for the CPU device only (it is not in the PTX); use Fast or Block on CUDA.", nameof(variant));
        options ??= new CrossEntropyOptions();
        if (options.Reduction == Reduction.None)
            throw new ArgumentException("A training step needs a scalar loss: the reduction must be Mean or Sum, not None.", nameof(options));
        if (options.ZLossScale != 0f || options.Softcap is > 0f || options.ClassWeights is not null)
            throw new ArgumentException("The fused step has the ignore index and label smoothing only; z-loss, softcap and class weights need the unfused step (Linear and FusedCrossEntropy).", nameof(options));
        _core = new CrossEntropyCore(device, options);
        Kernels = variant != SoftmaxRegressionStepVariant.Fast ? variant
            : device.Kind == DeviceKind.Cuda ? SoftmaxRegressionStepVariant.Block : SoftmaxRegressionStepVariant.Simd;
        _kernel = Kernels == SoftmaxRegressionStepVariant.Simd ? "xent_step_u8_simd" : "xent_step_u8_block";
    }

    /// <summary>The device the launches run on.</summary>
    public Device Device => _core.Device;

    /// <summary>The cross-entropy's settings.</summary>
    public CrossEntropyOptions Options => _core.Options;

    /// <summary>The kernel that runs (Fast resolved by device kind).</summary>
    public SoftmaxRegressionStepVariant Kernels { get; }

    /// <summary>One step, synchronously: returns the batch's loss and applies the update only when every label is
    /// valid (a bad label throws and leaves W and b as they were).</summary>
    /// <param name="x">X, N×K u8 images gathered by index.</param>
    /// <param name="labels">N labels of the batch's rows.</param>
    /// <param name="weights">W, K×C, dense: updated in place.</param>
    /// <param name="bias">b, C floats: updated in place.</param>
    /// <param name="logits">N×C, dense: receives X·W + b before the update (for the accuracy).</param>
    /// <param name="weightGradient">K×C, dense: receives dW.</param>
    /// <param name="biasGradient">C floats: receives db.</param>
    /// <param name="learningRate">lr.</param>
    /// <param name="weightDecay">The L2 coefficient on W (not on b); 0 for none.</param>
    /// <param name="logitsGradient">N×C floats that receive the cross-entropy's gradient, or null.</param>
    /// <param name="rowLoss">N floats that receive each row's loss, or null.</param>
    /// <returns>The reduced loss.</returns>
    /// <exception cref="ArgumentException">A shape does not fit (the message names it), C or K is past the
    /// kernels' limit, a buffer lives on another device, or an output shares a buffer with an input.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A label is outside [0, C) and not the ignore index; nothing was updated.</exception>
    public float Step(PixelRows x, DeviceBuffer<int> labels, DeviceMatrix weights, DeviceBuffer<float> bias, DeviceMatrix logits,
        DeviceMatrix weightGradient, DeviceBuffer<float> biasGradient, float learningRate, float weightDecay = 0f,
        DeviceBuffer<float>? logitsGradient = null, DeviceBuffer<float>? rowLoss = null)
    {
        Check(x, labels, weights, bias, logits, weightGradient, biasGradient, logitsGradient, rowLoss);
        var loss = _core.RowLoss(rowLoss, x.Rows);
        if (x.Rows > 0)
            RunParts(x, labels, weights, bias, logits, logitsGradient, loss, _core.Status);
        float result = x.Rows == 0 ? 0f : _core.ReduceAndCheck(loss, labels, x.Rows, weights.Cols);
        Update(x.Rows, x.Scale, weights, bias, weightGradient, biasGradient, learningRate, weightDecay);
        return result;
    }

    /// <summary>One step with nothing read back, for a training loop: the loss × <paramref name="weight"/> is added
    /// to <paramref name="totals"/> on the device, a bad label is recorded there (its row counts as ignored, and the
    /// update goes ahead, as the unfused step's device-side form).</summary>
    /// <param name="x">X, N×K u8 images gathered by index.</param>
    /// <param name="labels">N labels of the batch's rows.</param>
    /// <param name="weights">W, K×C, dense: updated in place.</param>
    /// <param name="bias">b, C floats: updated in place.</param>
    /// <param name="logits">N×C, dense: receives X·W + b before the update.</param>
    /// <param name="weightGradient">K×C, dense: receives dW.</param>
    /// <param name="biasGradient">C floats: receives db.</param>
    /// <param name="learningRate">lr.</param>
    /// <param name="weightDecay">The L2 coefficient on W; 0 for none.</param>
    /// <param name="totals">Totals of this device that the step adds to.</param>
    /// <param name="weight">The factor on the loss added to the totals (the trainer passes N).</param>
    /// <param name="correct">One int that the count of rows whose logits' argmax is their label is added to (as
    /// <see cref="Accuracy.AddCorrect"/> counts them, without its launch), or null.</param>
    /// <exception cref="ArgumentException">As for <see cref="Step"/>, or the totals live on another device, or the
    /// weight is not finite, or <paramref name="correct"/> is empty or shares a buffer with another argument.</exception>
    public void StepInto(PixelRows x, DeviceBuffer<int> labels, DeviceMatrix weights, DeviceBuffer<float> bias, DeviceMatrix logits,
        DeviceMatrix weightGradient, DeviceBuffer<float> biasGradient, float learningRate, float weightDecay,
        CrossEntropyTotals totals, double weight = 1, DeviceBuffer<int>? correct = null)
    {
        Check(x, labels, weights, bias, logits, weightGradient, biasGradient, null, null);
        _core.CheckTotals(totals, weight);
        if (correct is not null)
        {
            Vector(Device, correct, 1, "correct", "the correct count");
            Distinct(correct, "correct", [x.Images, x.Index, labels, weights.Buffer, bias, logits.Buffer, weightGradient.Buffer, biasGradient]);
        }
        if (x.Rows == 0)
        {
            _core.ReduceInto(null, labels, 0, weights.Cols, totals, weight);
        }
        else
        {
            var loss = _core.RowLoss(null, x.Rows);
            RunParts(x, labels, weights, bias, logits, null, loss, totals.Status, correct);
            _core.ReduceInto(loss, labels, x.Rows, weights.Cols, totals, weight);
        }
        Update(x.Rows, x.Scale, weights, bias, weightGradient, biasGradient, learningRate, weightDecay);
    }

    /// <summary>Frees the workspaces.</summary>
    public void Dispose()
    {
        _core.Dispose();
        _partWeights?.Dispose();
        _partBias?.Dispose();
    }

    private void Check(PixelRows x, DeviceBuffer<int> labels, DeviceMatrix weights, DeviceBuffer<float> bias, DeviceMatrix logits,
        DeviceMatrix weightGradient, DeviceBuffer<float> biasGradient, DeviceBuffer<float>? logitsGradient, DeviceBuffer<float>? rowLoss)
    {
        var device = Device;
        Pixels(device, x, "X");
        Matrix(device, weights, "W", dense: true);
        Matrix(device, logits, "logits", dense: true);
        Matrix(device, weightGradient, "dW", dense: true);
        int n = x.Rows, k = x.Cols, c = weights.Cols;
        if (weights.Rows != k)
            throw new ArgumentException(Invariant($"X is {x} but W is {weights}: X·W needs as many columns in X as rows in W (K)."), nameof(weights));
        if (c > MaxClasses)
            throw new ArgumentException(Invariant($"W is {weights}: the fused step takes at most {MaxClasses} classes; use the unfused step (Linear and FusedCrossEntropy) for C = {c}."), nameof(weights));
        if (k > MaxInputs)
            throw new ArgumentException(Invariant($"X is {x}: the fused step takes at most {MaxInputs} inputs per row; use the unfused step for K = {k}."), nameof(x));
        ArgumentNullException.ThrowIfNull(bias);
        ArgumentNullException.ThrowIfNull(biasGradient);
        Vector(device, bias, c, "b", weights, static w => Invariant($"W is {w}, so the bias"));
        Vector(device, biasGradient, c, "db", weights, static w => Invariant($"W is {w}, so the bias gradient"));
        if (logits.Rows != n || logits.Cols != c)
            throw new ArgumentException(Invariant($"The logits are {logits} but X·W is {n}×{c} (X is {x}, W is {weights})."), nameof(logits));
        if (weightGradient.Rows != k || weightGradient.Cols != c)
            throw new ArgumentException(Invariant($"dW is {weightGradient} but W is {weights}: they must have the same shape."), nameof(weightGradient));
        RowShapes.PerRow(device, labels, n, c, nameof(labels), "labels");
        if (logitsGradient is not null)
            Vector(device, logitsGradient, (long)n * c, "the logits' gradient", logits, static l => Invariant($"the logits are {l}, so their gradient"));
        if (rowLoss is not null)
            RowShapes.PerRow(device, rowLoss, n, c, nameof(rowLoss), "floats");
        // Every output apart from the others and from the inputs: the kernels read W and b while writing the rest.
        IDeviceMemory?[] inputs = [x.Images, x.Index, labels, weights.Buffer, bias];
        Distinct(logits.Buffer, "logits", inputs);
        Distinct(weightGradient.Buffer, "dW", [.. inputs, logits.Buffer]);
        Distinct(biasGradient, "db", [.. inputs, logits.Buffer, weightGradient.Buffer]);
        if (logitsGradient is not null)
            Distinct(logitsGradient, "the logits' gradient", [.. inputs, logits.Buffer, weightGradient.Buffer, biasGradient]);
        if (rowLoss is not null)
            Distinct(rowLoss, "rowLoss", [.. inputs, logits.Buffer, weightGradient.Buffer, biasGradient, logitsGradient]);
        if (ReferenceEquals(weights.Buffer, bias))
            throw new ArgumentException("W and b share a buffer.", nameof(bias));
    }

    private static int Parts(int n) => (n + PartRows - 1) / PartRows;

    private void RunParts(PixelRows x, DeviceBuffer<int> labels, DeviceMatrix weights, DeviceBuffer<float> bias, DeviceMatrix logits,
        DeviceBuffer<float>? logitsGradient, DeviceBuffer<float> loss, KernelArg status, DeviceBuffer<int>? correct = null)
    {
        var device = Device;
        var o = Options;
        int n = x.Rows, k = x.Cols, c = weights.Cols, parts = Parts(n);
        EnsureParts(parts, k, c);
        // _simd: one block per worker, each taking every grid-th part (and transposing W once); _block: a block per part.
        var (grid, block) = Kernels == SoftmaxRegressionStepVariant.Simd
            ? ((uint)Math.Min(parts, Math.Max(1, device.MultiprocessorCount)), 1u)
            : ((uint)parts, (uint)BlockThreads);
        device.Launch(device.Kernel(_kernel), grid, block, 0,
            x.Images, x.Cols, x.ImageCount, x.Index is null ? KernelArg.FromUInt64(0) : x.Index, x.Offset, x.Scale,
            weights.Buffer, bias, labels, n, k, c, o.IgnoreIndex, o.LabelSmoothing, 1f, o.Reduction == Reduction.Mean ? 1 : 0,
            logits.Buffer, loss, logitsGradient is null ? KernelArg.FromUInt64(0) : logitsGradient,
            _partWeights!, _partBias!, status, correct is null ? KernelArg.FromUInt64(0) : correct);
    }

    // Sums the parts (none for N = 0: zero dW and db) and applies SGD.
    private void Update(int n, float scale, DeviceMatrix weights, DeviceBuffer<float> bias, DeviceMatrix weightGradient, DeviceBuffer<float> biasGradient,
        float learningRate, float weightDecay)
    {
        var device = Device;
        int k = weights.Rows, c = weights.Cols;
        // Each thread a run of W's rows (all C classes of each): on a GPU a thread per row; on the CPU device a run
        // per worker (ContiguousRuns would give these few thousand elements one thread, and the sum over parts is
        // worth both cores).
        var (grid, block) = device.Kind == DeviceKind.Cuda
            ? ContiguousRuns.For(device, k)
            : ((Dim3)Math.Max(1, Math.Min(device.MultiprocessorCount, k)), (Dim3)1);
        EnsureParts(0, k, c);
        device.Launch(device.Kernel("sgd_step_update_f32"), grid, block, 0,
            _partWeights!, _partBias!, Parts(n), k, c, scale, learningRate, weightDecay,
            weights.Buffer, bias, weightGradient.Buffer, biasGradient);
    }

    private void EnsureParts(int parts, int k, int c)
    {
        long weightFloats = Math.Max(1, (long)parts * k * c), biasFloats = Math.Max(1, (long)parts * c);
        if (_partWeights is null || _partWeights.Length < weightFloats)
        {
            _partWeights?.Dispose();
            _partWeights = null;
            _partWeights = Device.Allocate<float>(weightFloats);
        }
        if (_partBias is null || _partBias.Length < biasFloats)
        {
            _partBias?.Dispose();
            _partBias = null;
            _partBias = Device.Allocate<float>(biasFloats);
        }
    }
}
