using Sharpmax.Cli.Data;
using Sharpmax.Cli.Output;
using Sharpmax.Models;
using Sharpmax.Ops;

namespace Sharpmax.Cli.Training;

/// <summary>Test-set results: mean cross-entropy, accuracy, and (when asked) the predicted class of each image.</summary>
public sealed record EvalResult(double Loss, double Accuracy, int Correct, int[]? Predictions);

/// <summary>
/// Evaluates a model (softmax regression or an MLP) on a labelled image set kept on the device as bytes, in
/// chunks of <see cref="ChunkRows"/> images. The loss is always the plain fused cross-entropy (no label
/// smoothing), so test losses compare across <c>--loss</c> and <c>--label-smoothing</c> settings.
/// </summary>
public sealed class Evaluator : IDisposable
{
    public const int ChunkRows = 2048;
    private readonly Device _device;
    private readonly LabeledImages _set;
    private readonly DeviceBuffer<byte> _images;
    private readonly DeviceBuffer<int> _labels;
    private readonly DeviceBuffer<int> _chunkLabels;
    private readonly DeviceBuffer<int> _chunkPredictions;
    private readonly DeviceBuffer<int> _correct;
    private readonly CrossEntropyTotals _totals;
    private readonly FusedCrossEntropy _loss;
    private Mlp? _checkpointModel;

    public Evaluator(Device device, LabeledImages set)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(set);
        _device = device;
        _set = set;
        _images = device.Upload<byte>(set.Pixels);
        _labels = device.Upload<int>(set.Labels.Select(l => (int)l).ToArray());
        Rows = Math.Min(ChunkRows, set.Count);
        _chunkLabels = device.Allocate<int>(Rows);
        _chunkPredictions = device.Allocate<int>(Rows);
        _correct = device.AllocateZeroed<int>(1);
        _totals = new CrossEntropyTotals(device);
        _loss = new FusedCrossEntropy(device, new CrossEntropyOptions { Reduction = Reduction.Sum });
    }

    /// <summary>The most rows one forward takes: a model evaluated with <see cref="Evaluate(Mlp, bool)"/> must be
    /// built for at least this many.</summary>
    public int Rows { get; }

    /// <summary>Evaluates a checkpoint (its parameters are uploaded to a model this evaluator keeps for the next
    /// call of the same sizes).</summary>
    public EvalResult Evaluate(Checkpoint model, bool withPredictions = true)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (_checkpointModel is null || !MlpParameters.HasSizes(_checkpointModel, model.Sizes))
        {
            _checkpointModel?.Dispose();
            _checkpointModel = null;
            _checkpointModel = new Mlp(_device, model.Sizes, Rows);
        }
        MlpParameters.Upload(model, _checkpointModel);
        return Evaluate(_checkpointModel, withPredictions);
    }

    /// <summary>Evaluates a model already on the device, as it is (its forward buffers are overwritten).</summary>
    /// <exception cref="ArgumentException">The model does not map 784 pixels to 10 classes, or takes fewer than
    /// <see cref="Rows"/> rows.</exception>
    public EvalResult Evaluate(Mlp model, bool withPredictions)
    {
        ArgumentNullException.ThrowIfNull(model);
        const int k = IdxReader.PixelsPerImage, c = IdxReader.ClassCount;
        if (model.Inputs != k || model.Outputs != c || model.MaxBatch < Rows)
        {
            throw new ArgumentException(FormattableString.Invariant(
                $"The model maps {model.Inputs} to {model.Outputs} in batches of {model.MaxBatch}; evaluation needs {k} to {c} in batches of {Rows}."), nameof(model));
        }
        _correct.Clear();
        _totals.Reset();
        int[]? predictions = withPredictions ? new int[_set.Count] : null;
        for (int offset = 0; offset < _set.Count; offset += ChunkRows)
        {
            int n = Math.Min(ChunkRows, _set.Count - offset);
            var x = new PixelRows(_images, n, k, Offset: offset);
            Gather.Forward(_labels, null, offset, _chunkLabels, n);
            var logits = model.Forward(x);
            // The chunk's loss sum is added on the device (in chunk order, as a host sum would): no read per chunk.
            _loss.ForwardInto(logits.Buffer, _chunkLabels, n, c, _totals);
            Accuracy.AddCorrect(logits, _chunkLabels, _correct);
            if (predictions is not null)
            {
                Accuracy.Argmax(logits, _chunkPredictions);
                _chunkPredictions.CopyTo(predictions.AsSpan(offset, n));
            }
        }
        var totals = _totals.Read();
        if (totals.BadLabel is { } bad)
        {
            // The label files are checked when read; labels given in code may not be.
            throw new UserErrorException(FormattableString.Invariant(
                $"image {bad.Call * ChunkRows + bad.Row} of the evaluated set has label {bad.Label}, outside [0, {c})"));
        }
        int correct = _correct.ToArray()[0];
        return new EvalResult(totals.LossSum / _set.Count, (double)correct / _set.Count, correct, predictions);
    }

    public void Dispose()
    {
        _checkpointModel?.Dispose();
        _loss.Dispose();
        _totals.Dispose();
        _correct.Dispose();
        _chunkPredictions.Dispose();
        _chunkLabels.Dispose();
        _labels.Dispose();
        _images.Dispose();
    }
}
