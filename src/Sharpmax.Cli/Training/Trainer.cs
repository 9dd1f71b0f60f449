using System.Diagnostics;
using Sharpmax.Cli.Data;
using Sharpmax.Cli.Output;
using Sharpmax.Models;
using Sharpmax.Ops;
using static System.FormattableString;

namespace Sharpmax.Cli.Training;

/// <summary>
/// Softmax regression (784→10) or an MLP (784→256 ReLU→10, d2l 5.2) trained with minibatch SGD on the device,
/// d2l's recipe: logits = relu(…relu(x/255·W₁ + b₁)…)·W_L + b_L, every W ~ N(0, 0.01²), every b = 0, mean
/// cross-entropy per batch, w ← w − lr·(∇ + weightDecay·w). The model is an <see cref="Mlp"/>; softmax regression
/// is the one without hidden layers. Its step with the fused loss is <see cref="SoftmaxRegressionStep"/> (logits,
/// cross-entropy, correct count, dW, db and the update in two launches); the MLP, and the naive loss, run the model's forward,
/// the loss, the written-out backward and SGD as separate launches.
/// </summary>
/// <remarks>
/// The data path is built for speed: both image sets live on the device as bytes for the whole run; each epoch
/// uploads one shuffled index (60 000 ints) and gathers every batch from it on the device, so no image crosses
/// the bus after the start and no buffer or batch descriptor is allocated per batch. What the host reads per
/// batch is nothing: the cross-entropy's device-side form adds each batch's loss to a sum on the device and
/// records a bad label or a non-finite loss there, against its batch; the trainer reads that record every
/// <see cref="TrainSettings.SyncEvery"/> batches (by default once per epoch), so a GPU can run ahead of the host.
/// The shuffle and the initial weights come from <see cref="SeededRandom"/>, and every kernel reduces in a
/// fixed order, so one seed on one device gives bitwise the same metrics run after run.
/// </remarks>
public sealed class Trainer : IDisposable
{
    private const int K = IdxReader.PixelsPerImage;
    private const int C = IdxReader.ClassCount;

    private readonly Device _device;
    private readonly TrainSettings _settings;
    private readonly int _trainCount;
    private readonly SeededRandom _random;
    private readonly int[] _order;
    private readonly DeviceBuffer<byte> _images;
    private readonly DeviceBuffer<int> _labels;
    private readonly DeviceBuffer<int> _index;
    private readonly DeviceBuffer<int> _batchLabels;
    private readonly DeviceBuffer<float> _gradLogits;
    private readonly Mlp _model;
    private readonly DeviceBuffer<int> _correct;
    private readonly CrossEntropyTotals _totals;
    private readonly PixelRows[] _batches;
    private readonly ICrossEntropy _loss;
    // Softmax regression with the fused loss runs its step as two launches (kernels/train_step.cu); null otherwise.
    private readonly SoftmaxRegressionStep? _fusedStep;

    public Trainer(Device device, FashionMnist data, TrainSettings settings)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(settings);
        _device = device;
        _settings = settings;
        _trainCount = data.Train.Count;
        _random = new SeededRandom(settings.Seed);
        _order = Enumerable.Range(0, _trainCount).ToArray();
        int batchRows = Math.Min(settings.BatchSize, _trainCount);

        _images = device.Upload<byte>(data.Train.Pixels);
        _labels = device.Upload<int>(data.Train.Labels.Select(l => (int)l).ToArray());
        _index = device.Allocate<int>(_trainCount);
        _batchLabels = device.Allocate<int>(batchRows);
        _gradLogits = device.Allocate<float>((long)batchRows * C);
        Evaluator = new Evaluator(device, data.Test);
        // Built for the evaluator's chunks too, so the test set is evaluated on this model, in place.
        _model = new Mlp(device, settings.LayerSizes(K, C), Math.Max(batchRows, Evaluator.Rows));
        // Layer by layer, row-major: for softmax regression the same K·C draws as before the MLP existed.
        _model.InitializeNormal(TrainSettings.InitialWeightStd, _random.NextGaussian);
        _correct = device.AllocateZeroed<int>(1);
        _totals = new CrossEntropyTotals(device);
        // One descriptor per batch position, made once: the index buffer's content changes, its layout does not.
        _batches = new PixelRows[(_trainCount + batchRows - 1) / batchRows];
        for (int i = 0; i < _batches.Length; i++)
        {
            int offset = i * batchRows;
            _batches[i] = new PixelRows(_images, Math.Min(batchRows, _trainCount - offset), K, _index, offset);
        }
        var options = new CrossEntropyOptions { Reduction = Reduction.Mean, LabelSmoothing = settings.LabelSmoothing };
        _loss = settings.Loss == LossKind.Naive ? new NaiveCrossEntropy(device, options) : new FusedCrossEntropy(device, options);
        if (settings.Loss == LossKind.Fused && _model.Layers.Count == 1)
            _fusedStep = new SoftmaxRegressionStep(device, options);
    }

    /// <summary>Evaluates on the test set.</summary>
    public Evaluator Evaluator { get; }

    /// <summary>
    /// One pass over the shuffled training set, then the test set. Train loss and accuracy are the running ones
    /// over the epoch (each batch measured before its update), as d2l reports them. The batches queue on the device
    /// without reading anything back: the loss sum, the correct count and the label checks stay on the device and
    /// are read every <see cref="TrainSettings.SyncEvery"/> batches (by default once, after the last batch), and
    /// an error found then still names the batch that caused it.
    /// </summary>
    /// <param name="epoch">The epoch's number, for messages and the metrics row.</param>
    /// <param name="progress">Called after each batch with the images queued so far and the rate in images/s.</param>
    /// <param name="stop">Checked after each batch but the last: when set, the epoch ends there, unfinished.</param>
    /// <exception cref="TrainingDivergedException">A batch loss or the test loss is NaN or infinite.</exception>
    /// <exception cref="UserErrorException">A training label is outside [0, 10) (the IDX reader refuses such files; labels
    /// given in code may have them); the message names the image and the batch.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="stop"/> was set; the message says after which batch.</exception>
    public EpochMetrics RunEpoch(int epoch, Action<long, double>? progress = null, CancellationToken stop = default)
    {
        var clock = Stopwatch.StartNew();
        var countsBefore = _device.OperationCounts;
        _random.Shuffle(_order);
        _index.CopyFrom(_order);
        _correct.Clear();
        _totals.Reset();
        int readEvery = _settings.SyncEvery ?? _batches.Length;
        CrossEntropyTotalsResult? totals = null;
        long done = 0;
        for (int b = 0; b < _batches.Length; b++)
        {
            var x = _batches[b];
            int n = x.Rows;
            var grad = new DeviceMatrix(_gradLogits, n, C);
            Gather.Forward(_labels, _index, x.Offset, _batchLabels, n);
            if (_fusedStep is not null)
            {
                // Logits, loss (added to the epoch's sum × n on the device), the correct count, gradients and the
                // update, in two launches.
                var layer = _model.Layers[0];
                _fusedStep.StepInto(x, _batchLabels, layer.Weights, layer.Bias, layer.Output(n), layer.WeightGradient, layer.BiasGradient,
                    _settings.LearningRate, _settings.WeightDecay, _totals, weight: n, correct: _correct);
            }
            else
            {
                var logits = _model.Forward(x);
                // Adds loss × n to the epoch's sum on the device, in batch order: the host's Σ (double)loss·n, bit for bit.
                _loss.ForwardBackwardInto(logits.Buffer, _batchLabels, n, C, _gradLogits, _totals, weight: n);
                Accuracy.AddCorrect(logits, _batchLabels, _correct);
                _model.Backward(x, grad);
                _model.Step(_settings.LearningRate, _settings.WeightDecay);
            }
            done += n;
            progress?.Invoke(done, done / clock.Elapsed.TotalSeconds);
            bool last = b + 1 == _batches.Length;
            bool stopping = !last && stop.IsCancellationRequested;
            if (last || stopping || (b + 1) % readEvery == 0)
            {
                // An error is reported before a stop request, so an interrupted epoch does not hide it.
                totals = ReadTotals(epoch);
            }
            if (stopping)
            {
                throw new OperationCanceledException(Invariant($"in epoch {epoch} after batch {b + 1} of {_batches.Length}"), stop);
            }
        }
        int correct = _correct.ToArray()[0];
        double seconds = clock.Elapsed.TotalSeconds;

        var test = Evaluator.Evaluate(_model, withPredictions: false);
        if (!double.IsFinite(test.Loss))
        {
            throw new TrainingDivergedException(Invariant($"the test loss after epoch {epoch} is {test.Loss}"));
        }
        var counts = _device.OperationCounts - countsBefore;
        return new EpochMetrics(epoch, totals!.LossSum / _trainCount, (double)correct / _trainCount, test.Loss, test.Accuracy,
            seconds, _trainCount / seconds, counts.HostSynchronizations);
    }

    /// <summary>Reads the epoch's device-side totals (one copy) and throws for the first batch that went wrong:
    /// a bad label before a non-finite loss in the same batch, as the synchronous cross-entropy checks them.</summary>
    private CrossEntropyTotalsResult ReadTotals(int epoch)
    {
        var totals = _totals.Read();
        if (totals.BadLabel is { } bad && (totals.NonFinite is null || bad.Call <= totals.NonFinite.Call))
        {
            int image = _order[_batches[bad.Call].Offset + bad.Row];
            throw new UserErrorException(Invariant(
                $"training stopped: training image {image} (row {bad.Row} of batch {bad.Call + 1} of {_batches.Length} in epoch {epoch}) has label {bad.Label}, outside [0, {C})"));
        }
        if (totals.NonFinite is { } nonFinite)
        {
            throw new TrainingDivergedException(Invariant($"the loss of batch {nonFinite.Call + 1} of {_batches.Length} in epoch {epoch} is {nonFinite.Loss}"));
        }
        return totals;
    }

    /// <summary>The current weights as a checkpoint, with the epoch's numbers.</summary>
    public Checkpoint Checkpoint(EpochMetrics metrics)
    {
        ArgumentNullException.ThrowIfNull(metrics);
        return new Checkpoint(MlpParameters.Download(_model))
        {
            Epoch = metrics.Epoch,
            Seed = _settings.Seed,
            TrainLoss = metrics.TrainLoss,
            TestLoss = metrics.TestLoss,
            TestAccuracy = metrics.TestAccuracy,
        };
    }

    public void Dispose()
    {
        Evaluator.Dispose();
        _loss.Dispose();
        _fusedStep?.Dispose();
        _totals.Dispose();
        foreach (var buffer in new IDisposable[] { _correct, _model, _gradLogits, _batchLabels, _index, _labels, _images })
        {
            buffer.Dispose();
        }
    }
}
