using Sharpmax.Cli.Commands;

namespace Sharpmax.Tests.Cli;

/// <summary>Runs the CLI in-process with captured output, as a redirected (non-terminal) process would.</summary>
internal static class CliRunner
{
    public static (int ExitCode, string Out, string Error) Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = CliApp.Run(args, new CliConsole(output, error, IsTerminal: false));
        return (code, output.ToString(), error.ToString());
    }
}
