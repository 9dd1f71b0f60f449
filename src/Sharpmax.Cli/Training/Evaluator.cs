using Sharpmax.Cli.Data;
using Sharpmax.Cli.Output;

namespace Sharpmax.Cli.Training;

public sealed record EvalResult(double Loss, double Accuracy, int Correct, int[] Predictions);

// STUB until the ops land.
public sealed class Evaluator(Device device, LabeledImages test) : IDisposable
{
    public Device Device { get; } = device;
    public LabeledImages Test { get; } = test;
    public EvalResult Evaluate(Checkpoint model) => throw new NotSupportedException("ops not yet available");
    public void Dispose() { }
}
