using System.CommandLine;
using Sharpmax.Cli.Stability;

namespace Sharpmax.Cli.Commands;

/// <summary><c>sharpmax stability</c>: where naive softmax cross-entropy breaks and the fused one does not.</summary>
internal static class StabilityCommand
{
    public static Command Create(CliConsole console)
    {
        var device = CommonOptions.Device();
        var command = new Command("stability", "Print the numerical-stability table: naive, max-shifted+clipped and fused log-sum-exp cross-entropy in float32 against float64, for logits of growing magnitude, and the project's kernels on the same rows.")
        {
            device,
        };
        command.SetAction(parse => CliApp.Guard(console, () =>
        {
            using var dev = Device.Open(CommonOptions.ParseDevice(parse.GetValue(device)!));
            StabilityTable.Print(console.Out, dev);
            return ExitCodes.Success;
        }));
        return command;
    }
}
