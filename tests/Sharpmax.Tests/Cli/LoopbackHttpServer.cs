using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Sharpmax.Tests.Cli;

/// <summary>
/// A minimal HTTP/1.1 server on 127.0.0.1 (a free port) that serves byte arrays by path, 404 otherwise,
/// one connection at a time, <c>Connection: close</c>. Enough for the downloader tests; never the internet.
/// </summary>
internal sealed class LoopbackHttpServer : IDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly Dictionary<string, byte[]> _files;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    public LoopbackHttpServer(Dictionary<string, byte[]> files)
    {
        _files = files;
        _listener.Start();
        BaseUrl = new Uri($"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}/data/");
        _loop = Task.Run(ServeAsync);
    }

    /// <summary>The URL that serves each file as <c>BaseUrl + name</c>.</summary>
    public Uri BaseUrl { get; }

    /// <summary>The paths requested so far, in order.</summary>
    public List<string> Requests { get; } = [];

    /// <summary>When set, responses stop after this many body bytes (a dropped connection).</summary>
    public int? CutAfterBytes { get; set; }

    private async Task ServeAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            using (client)
            {
                try
                {
                    await RespondAsync(client.GetStream());
                }
                catch (IOException)
                {
                    // The client went away; serve the next one.
                }
            }
        }
    }

    private async Task RespondAsync(NetworkStream stream)
    {
        var head = new StringBuilder();
        var buffer = new byte[1];
        while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal) && await stream.ReadAsync(buffer) == 1)
        {
            head.Append((char)buffer[0]);
        }
        string path = head.ToString().Split(' ').ElementAtOrDefault(1) ?? "/";
        lock (Requests)
        {
            Requests.Add(path);
        }
        const string prefix = "/data/";
        byte[]? body = path.StartsWith(prefix, StringComparison.Ordinal) && _files.TryGetValue(path[prefix.Length..], out var b) ? b : null;
        string status = body is null ? "404 Not Found" : "200 OK";
        body ??= Encoding.ASCII.GetBytes("not here");
        await stream.WriteAsync(Encoding.ASCII.GetBytes(
            $"HTTP/1.1 {status}\r\nContent-Length: {body.Length}\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n"));
        await stream.WriteAsync(body.AsMemory(0, Math.Min(body.Length, CutAfterBytes ?? body.Length)));
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
        try
        {
            _loop.Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
            // The loop ends with the listener; nothing to report.
        }
        _stop.Dispose();
    }
}
