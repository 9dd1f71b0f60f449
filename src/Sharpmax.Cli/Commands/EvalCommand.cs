using System.CommandLine;
using Sharpmax.Cli.Data;
using Sharpmax.Cli.Output;
using Sharpmax.Cli.Training;
using static System.FormattableString;

namespace Sharpmax.Cli.Commands;

/// <summary><c>sharpmax eval</c>: test loss and accuracy of a checkpoint, on the device.</summary>
internal static class EvalCommand
{
    public static Command Create(CliConsole console)
    {
        var checkpoint = CommonOptions.Checkpoint(required: true);
        var data = CommonOptions.Data();
        var device = CommonOptions.Device();
        var command = new Command("eval", "Evaluate a checkpoint on the Fashion-MNIST test set: mean cross-entropy and accuracy.")
        {
            checkpoint, data, device,
        };
        command.SetAction(parse => CliApp.Guard(console, () =>
        {
            string path = CommonOptions.FileName(parse.GetValue(checkpoint), "--checkpoint");
            var model = Checkpoint.Load(path);
            HostModel.CheckFashionMnistShape(model, path);
            var files = new FashionMnistLocator().Locate(parse.GetValue(data));
            console.Out.WriteLine($"data: {Path.GetDirectoryName(Path.GetFullPath(files.TestImages))}");
            var test = FashionMnist.LoadTest(files);
            using var dev = Device.Open(CommonOptions.ParseDevice(parse.GetValue(device)!));
            console.Out.WriteLine($"device: {dev.Description}");
            using var evaluator = new Evaluator(dev, test);
            var result = evaluator.Evaluate(model);
            console.Out.WriteLine(Invariant($"checkpoint: {path} (epoch {model.Epoch}, seed {model.Seed})"));
            console.Out.WriteLine(Invariant($"test loss {result.Loss:F4}, test accuracy {result.Accuracy:P2} ({result.Correct}/{test.Count})"));
            return ExitCodes.Success;
        }));
        return command;
    }
}
