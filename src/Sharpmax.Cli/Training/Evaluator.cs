using Sharpmax.Cli.Data;
using Sharpmax.Cli.Output;
using Sharpmax.Ops;

namespace Sharpmax.Cli.Training;

/// <summary>Test-set results: mean cross-entropy, accuracy, and (when asked) the predicted class of each image.</summary>
public sealed record EvalResult(double Loss, double Accuracy, int Correct, int[]? Predictions);

/// <summary>
/// Evaluates softmax-regression weights on a labelled image set kept on the device as bytes, in chunks of
/// <see cref="ChunkRows"/> images. The loss is always the plain fused cross-entropy (no label smoothing), so
/// test losses compare across <c>--loss</c> and <c>--label-smoothing</c> settings.
/// </summary>
public sealed class Evaluator : IDisposable
{
    public const int ChunkRows = 2048;
    private readonly Device _device;
    private readonly LabeledImages _set;
    private readonly DeviceBuffer<byte> _images;
    private readonly DeviceBuffer<int> _labels;
    private readonly DeviceBuffer<float> _logits;
    private readonly DeviceBuffer<int> _chunkLabels;
    private readonly DeviceBuffer<int> _chunkPredictions;
    private readonly DeviceBuffer<int> _correct;
    private readonly CrossEntropyTotals _totals;
    private readonly Linear _linear;
    private readonly FusedCrossEntropy _loss;
    private DeviceBuffer<float>? _weights;
    private DeviceBuffer<float>? _bias;

    public Evaluator(Device device, LabeledImages set)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(set);
        _device = device;
        _set = set;
        _images = device.Upload<byte>(set.Pixels);
        _labels = device.Upload<int>(set.Labels.Select(l => (int)l).ToArray());
        int chunk = Math.Min(ChunkRows, set.Count);
        _logits = device.Allocate<float>((long)chunk * IdxReader.ClassCount);
        _chunkLabels = device.Allocate<int>(chunk);
        _chunkPredictions = device.Allocate<int>(chunk);
        _correct = device.AllocateZeroed<int>(1);
        _totals = new CrossEntropyTotals(device);
        _linear = new Linear(device);
        _loss = new FusedCrossEntropy(device, new CrossEntropyOptions { Reduction = Reduction.Sum });
    }

    /// <summary>Evaluates a checkpoint (its weights are uploaded to buffers this evaluator keeps for the next call).</summary>
    public EvalResult Evaluate(Checkpoint model, bool withPredictions = true)
    {
        ArgumentNullException.ThrowIfNull(model);
        _weights ??= _device.Allocate<float>(model.Weights.Length);
        _bias ??= _device.Allocate<float>(model.Bias.Length);
        _weights.CopyFrom(model.Weights);
        _bias.CopyFrom(model.Bias);
        return Evaluate(_weights, _bias, withPredictions);
    }

    /// <summary>Evaluates weights already on the device: W is K×C row-major, b has C values.</summary>
    public EvalResult Evaluate(DeviceBuffer<float> weights, DeviceBuffer<float> bias, bool withPredictions)
    {
        const int k = IdxReader.PixelsPerImage, c = IdxReader.ClassCount;
        var w = new DeviceMatrix(weights, k, c);
        _correct.Clear();
        _totals.Reset();
        int[]? predictions = withPredictions ? new int[_set.Count] : null;
        for (int offset = 0; offset < _set.Count; offset += ChunkRows)
        {
            int n = Math.Min(ChunkRows, _set.Count - offset);
            var x = new PixelRows(_images, n, k, Offset: offset);
            var logits = new DeviceMatrix(_logits, n, c);
            Gather.Forward(_labels, null, offset, _chunkLabels, n);
            _linear.Forward(x, w, bias, logits);
            // The chunk's loss sum is added on the device (in chunk order, as a host sum would): no read per chunk.
            _loss.ForwardInto(_logits, _chunkLabels, n, c, _totals);
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
        _loss.Dispose();
        _totals.Dispose();
        _weights?.Dispose();
        _bias?.Dispose();
        _correct.Dispose();
        _chunkPredictions.Dispose();
        _chunkLabels.Dispose();
        _logits.Dispose();
        _labels.Dispose();
        _images.Dispose();
    }
}
