using System.Diagnostics;
using System.Text;

namespace Sharpmax.Tests.Embedding;

/// <summary>Output and exit code of a finished child process.</summary>
/// <param name="ExitCode">The process's exit code.</param>
/// <param name="Output">Standard output and standard error, interleaved as they arrived.</param>
internal sealed record ProcessResult(int ExitCode, string Output);

/// <summary>Runs the dotnet CLI as a child process with a deadline, isolated from the test host's MSBuild.</summary>
internal static class ProcessRunner
{
    /// <summary>The dotnet executable that runs these tests (DOTNET_HOST_PATH), else the one on PATH.</summary>
    public static string Dotnet =>
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } path && File.Exists(path) ? path : "dotnet";

    /// <summary>Runs <see cref="Dotnet"/> with <paramref name="arguments"/>; kills the process tree at the deadline.</summary>
    /// <exception cref="TimeoutException">The process did not finish before <paramref name="deadline"/>.</exception>
    public static ProcessResult RunDotnet(string workingDirectory, DateTime deadline, params string[] arguments)
    {
        var start = new ProcessStartInfo(Dotnet)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
            start.ArgumentList.Add(argument);
        // `dotnet test` exports MSBuild's own paths to the test host; a child build must find its SDK itself.
        foreach (var name in start.Environment.Keys.Where(key => key.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase)).ToList())
            start.Environment.Remove(name);
        // No build servers: they would outlive the child, hold its output pipes open and keep the temp folder busy.
        start.Environment["MSBUILDDISABLENODEREUSE"] = "1";
        start.Environment["DOTNET_CLI_USE_MSBUILD_SERVER"] = "0";
        start.Environment["UseSharedCompilation"] = "false";
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        start.Environment["DOTNET_SKIP_FIRST_TIME_EXPERIENCE"] = "1";

        var output = new StringBuilder();
        using var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) => Append(output, e.Data);
        process.ErrorDataReceived += (_, e) => Append(output, e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var remaining = deadline - DateTime.UtcNow;
        if (remaining < TimeSpan.Zero || !process.WaitForExit(remaining))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit(TimeSpan.FromSeconds(10));
            throw new TimeoutException($"dotnet {string.Join(' ', arguments)} did not finish in time; output so far:\n{Text(output)}");
        }
        process.WaitForExit();  // drains the asynchronous readers
        return new ProcessResult(process.ExitCode, Text(output));
    }

    private static void Append(StringBuilder output, string? line)
    {
        if (line is null)
            return;
        lock (output)
            output.AppendLine(line);
    }

    private static string Text(StringBuilder output)
    {
        lock (output)
            return output.ToString();
    }
}
