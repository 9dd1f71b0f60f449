namespace Sharpmax.Cli.Training;

/// <summary>Which cross-entropy implementation training uses.</summary>
public enum LossKind
{
    /// <summary>One pass per row: max, log-sum-exp, loss and gradient.</summary>
    Fused,

    /// <summary>Softmax, log, gather-NLL with the 1e-12 clip, and a separate gradient kernel.</summary>
    Naive,
}

/// <summary>A training run's hyper-parameters and outputs; the defaults are d2l's softmax-regression recipe, which
/// its MLP (5.2) keeps: batch 256, lr 0.1, 10 epochs, W ~ N(0, 0.01²), b = 0.</summary>
public sealed record TrainSettings
{
    /// <summary>Units of each hidden layer, from the input side (ReLU after each); empty, the default, is softmax
    /// regression. d2l's MLP is [256].</summary>
    public IReadOnlyList<int> HiddenSizes { get; init; } = [];

    public int Epochs { get; init; } = 10;
    public int BatchSize { get; init; } = 256;
    public float LearningRate { get; init; } = 0.1f;
    public float WeightDecay { get; init; }
    public float LabelSmoothing { get; init; }
    public LossKind Loss { get; init; } = LossKind.Fused;
    public DeviceKind Device { get; init; } = DeviceKind.Auto;
    public ulong Seed { get; init; }
    public string OutputDirectory { get; init; } = "out";

    /// <summary>Whether a run may replace the run files already in <see cref="OutputDirectory"/> (see <c>RunFolder</c>).</summary>
    public bool Overwrite { get; init; }
    public bool Quiet { get; init; }

    /// <summary>Read the epoch's loss sum and label checks back every this many batches (at least 1); null, the
    /// default, reads them once, after the last batch. Smaller values find a divergence sooner but make the host
    /// wait for the device more often; the numbers are the same.</summary>
    public int? SyncEvery { get; init; }

    /// <summary>The most units a hidden layer may have (784·4096 + 7·4096² weights stay well inside what a
    /// checkpoint holds).</summary>
    public const int MaxHiddenUnits = 4096;

    /// <summary>The most hidden layers a run may have.</summary>
    public const int MaxHiddenLayers = 8;

    /// <summary>Features from the input to the output: [inputs, ..HiddenSizes, classes].</summary>
    public int[] LayerSizes(int inputs, int classes) => [inputs, .. HiddenSizes, classes];

    /// <summary>The model in words, for the recipe line and the plot: "784 -> 256 (ReLU) -> 10", or
    /// "784 -> 10 (softmax regression)".</summary>
    public string ModelDescription(int inputs, int classes) => HiddenSizes.Count == 0
        ? $"{inputs} -> {classes} (softmax regression)"
        : string.Join(" -> ", [inputs.ToString(System.Globalization.CultureInfo.InvariantCulture),
            .. HiddenSizes.Select(h => h.ToString(System.Globalization.CultureInfo.InvariantCulture) + " (ReLU)"),
            classes.ToString(System.Globalization.CultureInfo.InvariantCulture)]);

    /// <summary>Standard deviation of the initial weights, W ~ N(0, 0.01²).</summary>
    public const float InitialWeightStd = 0.01f;
}
