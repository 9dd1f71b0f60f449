using System.Globalization;
using Sharpmax.Cli.Commands;

// One language and one number format whatever the locale: the CLI's own messages are English (docs/errors.md),
// System.CommandLine would otherwise mix in its translations ("Befehl oder Argument … nicht erkannt"), and any
// number formatted without an explicit culture still comes out as the docs show it.
CultureInfo.DefaultThreadCurrentCulture = CultureInfo.DefaultThreadCurrentUICulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.CurrentUICulture = CultureInfo.InvariantCulture;
return CliApp.Run(args, CliConsole.System());
