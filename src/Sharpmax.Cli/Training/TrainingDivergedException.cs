namespace Sharpmax.Cli.Training;

/// <summary>The loss became NaN or infinite; training stops and the last good checkpoint stays.</summary>
public sealed class TrainingDivergedException : Exception
{
    public TrainingDivergedException() { }
    public TrainingDivergedException(string message) : base(message) { }
    public TrainingDivergedException(string message, Exception? innerException) : base(message, innerException) { }
}
