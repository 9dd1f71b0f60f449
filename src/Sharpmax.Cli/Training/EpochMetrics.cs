using CsvHelper;

namespace Sharpmax.Cli.Training;

/// <summary>One epoch's results, also a row of <c>metrics.csv</c>. Losses are means over images; accuracies are fractions in 0..1.</summary>
/// <param name="Seconds">Wall time of the epoch's training pass (not its evaluation).</param>
/// <param name="ImagesPerSecond">Training images processed per second of <paramref name="Seconds"/>.</param>
/// <param name="HostSynchronizations">Times the host waited for the device during the epoch, its evaluation
/// included: blocking copies to and from the device and synchronizations, as the device layer counts them
/// (<see cref="DeviceOperationCounts.HostSynchronizations"/>), so the number means the same on every device.</param>
[CsvRecord]
public sealed partial record EpochMetrics(
    [property: CsvColumn("epoch")] int Epoch,
    [property: CsvColumn("train_loss")] double TrainLoss,
    [property: CsvColumn("train_acc")] double TrainAccuracy,
    [property: CsvColumn("test_loss")] double TestLoss,
    [property: CsvColumn("test_acc")] double TestAccuracy,
    [property: CsvColumn("seconds")] double Seconds,
    [property: CsvColumn("images_per_s")] double ImagesPerSecond,
    [property: CsvColumn("host_syncs")] long HostSynchronizations);
