namespace Sharpmax.Cli.Data;

/// <summary>
/// Reads a stream into memory as its bytes actually arrive, up to a limit: the buffer starts small and doubles,
/// so what a file's header declares (or a device file that never ends) cannot make the reader reserve memory
/// the data does not fill.
/// </summary>
public static class BoundedRead
{
    private const int FirstChunk = 1 << 16;

    /// <summary>
    /// Returns <paramref name="prefix"/> followed by at most <paramref name="limit"/> further bytes of
    /// <paramref name="stream"/> (fewer when it ends first).
    /// </summary>
    public static byte[] Read(Stream stream, long limit, byte[]? prefix = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentOutOfRangeException.ThrowIfNegative(limit);
        prefix ??= [];
        long total = prefix.LongLength + limit;
        if (total > Array.MaxLength)
        {
            total = Array.MaxLength;
        }
        var buffer = new byte[Math.Min(total, Math.Max(prefix.Length, FirstChunk))];
        prefix.CopyTo(buffer, 0);
        int filled = prefix.Length;
        while (filled < total)
        {
            if (filled == buffer.Length)
            {
                Array.Resize(ref buffer, (int)Math.Min(total, 2L * buffer.Length));
            }
            int n = stream.Read(buffer, filled, buffer.Length - filled);
            if (n == 0)
            {
                break;
            }
            filled += n;
        }
        if (filled != buffer.Length)
        {
            Array.Resize(ref buffer, filled);
        }
        return buffer;
    }
}
