namespace Sharpmax.Cli;

/// <summary>Process exit codes of the <c>sharpmax</c> CLI.</summary>
public static class ExitCodes
{
    public const int Success = 0;

    /// <summary>Unknown command, unknown option or an option value out of range (System.CommandLine's own code).</summary>
    public const int Usage = 1;

    /// <summary>Input the user can fix: data not found, a malformed IDX file, checkpoint or image, a failed download.</summary>
    public const int BadInput = 2;

    /// <summary>Training stopped because the loss became NaN or infinite.</summary>
    public const int Diverged = 3;
}
