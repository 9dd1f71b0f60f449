namespace Sharpmax.Cli;

/// <summary>Process exit codes of the <c>sharpmax</c> CLI (docs/errors.md lists the messages behind each).</summary>
public static class ExitCodes
{
    public const int Success = 0;

    /// <summary>Unknown command, unknown option or an option value out of range (System.CommandLine's own code).</summary>
    public const int Usage = 1;

    /// <summary>
    /// Input or output the user can fix: data not found, a malformed IDX file, checkpoint or image, a failed
    /// download, an unusable or unwritable <c>--out</c>, a full disk, no device.
    /// </summary>
    public const int BadInput = 2;

    /// <summary>Training stopped because the loss became NaN or infinite.</summary>
    public const int Diverged = 3;

    /// <summary>Stopped by Ctrl-C (SIGINT), after writing the files for the epochs done (128 + 2, as shells report it).</summary>
    public const int Interrupted = 130;

    /// <summary>Stopped by SIGTERM, after writing the files for the epochs done (128 + 15).</summary>
    public const int Terminated = 143;
}
