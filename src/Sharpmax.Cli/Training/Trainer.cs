using Sharpmax.Cli.Data;
using Sharpmax.Cli.Output;

namespace Sharpmax.Cli.Training;

// STUB until the ops land.
public sealed class Trainer(Device device, FashionMnist data, TrainSettings settings) : IDisposable
{
    public Evaluator Evaluator { get; } = new Evaluator(device, data.Test);
    public EpochMetrics RunEpoch(int epoch, Action<long, double>? progress) => throw new NotSupportedException($"ops not yet available {settings}");
    public Checkpoint Checkpoint(EpochMetrics metrics) => throw new NotSupportedException();
    public void Dispose() => Evaluator.Dispose();
}
