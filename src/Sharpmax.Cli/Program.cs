using Sharpmax.Cli.Commands;

return CliApp.Run(args, CliConsole.System());
