using System.CommandLine;
using System.CommandLine.Help;

namespace Sharpmax.Cli.Commands;

/// <summary>The <c>sharpmax</c> command line: train, eval, predict, stability.</summary>
public static class CliApp
{
    public static int Run(string[] args, CliConsole console)
    {
        ArgumentNullException.ThrowIfNull(console);
        var parse = Build(console).Parse(args);
        if (parse.Errors.Count > 0)
        {
            // Just the errors and a pointer to the help: the full help would bury them.
            foreach (var error in parse.Errors)
            {
                console.Error.WriteLine($"sharpmax: error: {error.Message}");
            }
            console.Error.WriteLine($"Run '{string.Join(' ', parse.CommandResult.Command.Name == "sharpmax" ? ["sharpmax"] : new[] { "sharpmax", parse.CommandResult.Command.Name })} --help' for the options.");
            return ExitCodes.Usage;
        }
        return parse.Invoke(new InvocationConfiguration { Output = console.Out, Error = console.Error });
    }

    public static Command Build(CliConsole console)
    {
        // A plain Command rather than RootCommand, so help says "sharpmax" and not the assembly name.
        var root = new Command("sharpmax", "Softmax regression on Fashion-MNIST with hand-written CUDA kernels (CPU device when there is no GPU).")
        {
            new HelpOption(),
            new VersionOption(),
        };
        root.Subcommands.Add(TrainCommand.Create(console));
        root.Subcommands.Add(EvalCommand.Create(console));
        root.Subcommands.Add(PredictCommand.Create(console));
        root.Subcommands.Add(StabilityCommand.Create(console));
        return root;
    }

    /// <summary>Runs a command body; a user error becomes a one-line message on stderr and a non-zero exit code, no stack trace.</summary>
    internal static int Guard(CliConsole console, Func<int> body)
    {
        try
        {
            return body();
        }
        catch (UserErrorException e)
        {
            console.Error.WriteLine($"sharpmax: error: {e.Message}");
            return ExitCodes.BadInput;
        }
        catch (DeviceUnavailableException e)
        {
            console.Error.WriteLine($"sharpmax: error: {e.Message}");
            return ExitCodes.BadInput;
        }
    }
}
