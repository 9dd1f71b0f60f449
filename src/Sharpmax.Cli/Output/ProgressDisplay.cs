using static System.FormattableString;

namespace Sharpmax.Cli.Output;

/// <summary>
/// A one-line progress bar for the epoch in flight, redrawn in place on a terminal; nothing when the output is
/// redirected or quiet (the per-epoch table rows are the plain-line progress then).
/// </summary>
public sealed class ProgressDisplay
{
    private const int BarWidth = 30;
    private static readonly TimeSpan RedrawInterval = TimeSpan.FromMilliseconds(100);
    private readonly TextWriter? _terminal;
    private DateTime _lastDraw;
    private int _lastLength;

    public ProgressDisplay(TextWriter output, bool isTerminal, bool quiet)
    {
        _terminal = isTerminal && !quiet ? output : null;
    }

    /// <summary>Shows <paramref name="done"/> of <paramref name="total"/> images of epoch <paramref name="epoch"/>.</summary>
    public void Report(int epoch, int epochs, long done, long total, double imagesPerSecond)
    {
        if (_terminal is null || (DateTime.UtcNow - _lastDraw < RedrawInterval && done < total))
        {
            return;
        }
        _lastDraw = DateTime.UtcNow;
        int filled = (int)(BarWidth * done / Math.Max(1, total));
        string line = Invariant($"epoch {epoch}/{epochs} [{new string('#', filled)}{new string('.', BarWidth - filled)}] {done,6}/{total} images  {imagesPerSecond,9:N0} images/s");
        _terminal.Write("\r" + line.PadRight(_lastLength));
        _lastLength = line.Length;
        _terminal.Flush();
    }

    /// <summary>Erases the bar so the next line starts clean.</summary>
    public void Clear()
    {
        if (_terminal is null || _lastLength == 0)
        {
            return;
        }
        _terminal.Write("\r" + new string(' ', _lastLength) + "\r");
        _lastLength = 0;
    }
}
