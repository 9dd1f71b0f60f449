using System.Runtime.InteropServices;
using Sharpmax.Cli.Output;

namespace Sharpmax.Cli.Commands;

/// <summary>
/// Turns the first Ctrl-C (SIGINT) or SIGTERM into a request that <c>train</c> stop at the end of the current
/// batch and write what it has. A second signal ends the process at once, as the default handler would, after
/// deleting the temporary files of the writes in progress.
/// </summary>
internal sealed class StopRequest : IDisposable
{
    private readonly CancellationTokenSource _source = new();
    private readonly PosixSignalRegistration[] _registrations;
    private readonly Lock _lock = new();
    private PosixSignal? _signal;

    public StopRequest()
    {
        _registrations = [PosixSignalRegistration.Create(PosixSignal.SIGINT, Handle), PosixSignalRegistration.Create(PosixSignal.SIGTERM, Handle)];
    }

    /// <summary>Set by the first signal.</summary>
    public CancellationToken Token => _source.Token;

    /// <summary>The shell's code for the signal that stopped the run: 128 + 2 for SIGINT, 128 + 15 for SIGTERM.</summary>
    public int ExitCode
    {
        get
        {
            lock (_lock)
            {
                return _signal == PosixSignal.SIGTERM ? ExitCodes.Terminated : ExitCodes.Interrupted;
            }
        }
    }

    private void Handle(PosixSignalContext context)
    {
        lock (_lock)
        {
            if (_signal is null)
            {
                _signal = context.Signal;
                context.Cancel = true; // keep running: training stops at the end of the batch
                _source.Cancel();
                return;
            }
        }
        AtomicFile.DeleteInFlight(); // Cancel stays false: the default handling ends the process
    }

    public void Dispose()
    {
        foreach (var registration in _registrations)
        {
            registration.Dispose();
        }
        _source.Dispose();
    }
}
