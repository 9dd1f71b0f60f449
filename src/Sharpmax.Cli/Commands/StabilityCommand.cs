using System.CommandLine;
using Sharpmax.Cli.Stability;

namespace Sharpmax.Cli.Commands;

/// <summary><c>sharpmax stability</c>: where naive softmax cross-entropy breaks and the fused one does not.</summary>
internal static class StabilityCommand
{
    public static Command Create(CliConsole console)
    {
        var command = new Command("stability", "Print the numerical-stability table: naive, max-shifted+clipped and fused log-sum-exp cross-entropy in float32 against float64, for logits of growing magnitude.");
        command.SetAction(_ => CliApp.Guard(console, () =>
        {
            StabilityTable.Print(console.Out);
            return ExitCodes.Success;
        }));
        return command;
    }
}
