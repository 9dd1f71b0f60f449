using System.CommandLine;
using Sharpmax.Cli.Data;
using Sharpmax.Cli.Output;
using Sharpmax.Cli.Training;

namespace Sharpmax.Cli.Commands;

/// <summary><c>sharpmax train</c>: d2l's softmax regression, or its MLP with <c>--hidden</c>, on Fashion-MNIST, with
/// metrics, plots and a checkpoint.</summary>
internal static class TrainCommand
{
    public static Command Create(CliConsole console)
    {
        var defaults = new TrainSettings();
        var data = CommonOptions.Data();
        var epochs = new Option<int>("--epochs") { Description = "Passes over the training set.", DefaultValueFactory = _ => defaults.Epochs }
            .WholeNumber(1, int.MaxValue, $"between 1 and {int.MaxValue}");
        var batchSize = new Option<int>("--batch-size") { Description = "Images per SGD step; the last batch of an epoch may be smaller.", DefaultValueFactory = _ => defaults.BatchSize }
            .WholeNumber(1, 60000, "between 1 and 60000");
        var lr = new Option<float>("--lr") { Description = "SGD learning rate.", DefaultValueFactory = _ => defaults.LearningRate }
            .RealNumber(v => v > 0, "a positive number");
        var weightDecay = new Option<float>("--weight-decay") { Description = "L2 weight decay added to the gradient of W (not b).", DefaultValueFactory = _ => defaults.WeightDecay }
            .RealNumber(v => v >= 0, "zero or positive");
        var loss = new Option<string>("--loss") { Description = "Cross-entropy implementation: fused (one pass, log-sum-exp) or naive (softmax, log, clip).", DefaultValueFactory = _ => "fused" }
            .AcceptOnlyFromAmong("fused", "naive");
        var hidden = new Option<int[]>("--hidden")
        {
            Description = "Units of a hidden layer with ReLU (repeat for more layers: --hidden 256 --hidden 128); none: softmax regression. d2l's MLP is --hidden 256.",
            HelpName = "UNITS",
        }.WholeNumbers(1, TrainSettings.MaxHiddenUnits, $"between 1 and {TrainSettings.MaxHiddenUnits}", TrainSettings.MaxHiddenLayers);
        var device = CommonOptions.Device();
        var seed = new Option<ulong>("--seed") { Description = "Seed of the weight initialisation and the shuffling; same seed, same device: same numbers.", DefaultValueFactory = _ => defaults.Seed }
            .WholeNumber();
        var output = new Option<string>("--out") { Description = "Directory for metrics.csv, model.ckpt and the pictures: created if needed, and it must be empty unless --overwrite is given.", HelpName = "DIR", DefaultValueFactory = _ => defaults.OutputDirectory };
        var overwrite = new Option<bool>("--overwrite") { Description = "Let this run delete the files of an earlier run in --out (metrics.csv, model.ckpt, the pictures) before it starts; other files stay." };
        var labelSmoothing = new Option<float>("--label-smoothing") { Description = "Label smoothing ε in [0, 1): the target puts 1-ε on the label and ε/10 on every class.", DefaultValueFactory = _ => defaults.LabelSmoothing }
            .RealNumber(v => v is >= 0 and < 1, "in [0, 1)");
        var syncEvery = new Option<int?>("--sync-every")
        {
            Description = "Read the loss and the label checks back from the device every K batches (default: once per epoch); an error still names its batch, and the numbers are the same for any K.",
            HelpName = "K",
        }.WholeNumber(1, int.MaxValue, $"between 1 and {int.MaxValue}");
        var quiet = new Option<bool>("--quiet") { Description = "No progress bar: only the per-epoch lines." };
        var download = new Option<bool>("--download") { Description = $"Fetch the four files into --data DIR (default ./{FashionMnistLocator.LocalDirectory}) when they are missing, checking the published MD5s." };
        var downloadUrl = new Option<string>("--download-url")
        {
            Description = "Where --download fetches NAME.gz from.",
            HelpName = "URL",
            DefaultValueFactory = _ => FashionMnistDownloader.OfficialBaseUrl.AbsoluteUri,
        }.Require(v => Uri.TryCreate(v, UriKind.Absolute, out var u) && (u.Scheme == Uri.UriSchemeHttp || u.Scheme == Uri.UriSchemeHttps), "must be an http:// or https:// URL");

        var command = new Command("train", "Train softmax regression (784 -> 10, d2l's recipe) or, with --hidden, an MLP (784 -> 256 ReLU -> 10) and write metrics.csv, curves.png, misclassified.png, confusion.csv/png and model.ckpt.")
        {
            data, hidden, epochs, batchSize, lr, weightDecay, loss, device, seed, output, overwrite, labelSmoothing, syncEvery, quiet, download, downloadUrl,
        };
        command.SetAction(parse => CliApp.Guard(console, () =>
        {
            using var stop = new StopRequest();
            var settings = new TrainSettings
            {
                HiddenSizes = parse.GetValue(hidden) ?? [],
                Epochs = parse.GetValue(epochs),
                BatchSize = parse.GetValue(batchSize),
                LearningRate = parse.GetValue(lr),
                WeightDecay = parse.GetValue(weightDecay),
                LabelSmoothing = parse.GetValue(labelSmoothing),
                Loss = parse.GetValue(loss) == "naive" ? LossKind.Naive : LossKind.Fused,
                Device = CommonOptions.ParseDevice(parse.GetValue(device)!),
                Seed = parse.GetValue(seed),
                OutputDirectory = parse.GetValue(output)!,
                Overwrite = parse.GetValue(overwrite),
                Quiet = parse.GetValue(quiet),
                SyncEvery = parse.GetValue(syncEvery),
            };
            // Before the data is loaded: a folder that cannot take the run fails in a second, not after loading.
            RunFolder.Check(settings.OutputDirectory, settings.Overwrite);
            FashionMnistFiles files;
            try
            {
                files = parse.GetValue(download)
                    ? Download(parse.GetValue(data), new Uri(parse.GetValue(downloadUrl)!), console, stop.Token)
                    : new FashionMnistLocator().Locate(parse.GetValue(data));
            }
            catch (OperationCanceledException) when (stop.Token.IsCancellationRequested)
            {
                console.Error.WriteLine("sharpmax: interrupted during the download; the file being fetched was not kept.");
                return stop.ExitCode;
            }
            console.Out.WriteLine($"data: {Path.GetDirectoryName(Path.GetFullPath(files.TrainImages))}");
            int code = TrainingRun.Run(settings, FashionMnist.Load(files), console, stop.Token);
            return code == ExitCodes.Interrupted ? stop.ExitCode : code;
        }));
        return command;
    }

    private static FashionMnistFiles Download(string? directory, Uri baseUrl, CliConsole console, CancellationToken stop)
    {
        if (directory is not null && string.IsNullOrWhiteSpace(directory))
        {
            throw new DataNotFoundException("--data was given an empty directory name");
        }
        string target = directory ?? new FashionMnistLocator().DefaultDownloadDirectory;
        using var http = new HttpClient { Timeout = TimeSpan.FromMinutes(10) };
        var downloader = new FashionMnistDownloader(http, baseUrl, FashionMnistDownloader.OfficialMd5, console.Out);
        return downloader.DownloadAsync(target, stop).GetAwaiter().GetResult();
    }
}
