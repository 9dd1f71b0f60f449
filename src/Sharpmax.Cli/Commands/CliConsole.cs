namespace Sharpmax.Cli.Commands;

/// <summary>Where the CLI writes, and whether stdout is a terminal (progress bars) or redirected (plain lines).</summary>
public sealed record CliConsole(TextWriter Out, TextWriter Error, bool IsTerminal)
{
    public static CliConsole System() => new(Console.Out, Console.Error, !Console.IsOutputRedirected);
}
