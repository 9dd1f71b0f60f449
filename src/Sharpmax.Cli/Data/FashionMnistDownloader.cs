using System.Security.Cryptography;

namespace Sharpmax.Cli.Data;

/// <summary>
/// Fetches the four Fashion-MNIST <c>.gz</c> files from a base URL, checks each against the MD5 published
/// in the dataset's README, checks it decompresses and parses as IDX, and only then renames it into place,
/// so a failed or interrupted download never leaves a file that looks like data.
/// </summary>
public sealed class FashionMnistDownloader
{
    /// <summary>The dataset's official location (the links in zalandoresearch/fashion-mnist's README).</summary>
    public static readonly Uri OfficialBaseUrl = new("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/");

    /// <summary>MD5 of the official <c>.gz</c> files as published in the dataset's README (also in Debian's copy of it).</summary>
    public static IReadOnlyDictionary<string, string> OfficialMd5 { get; } = new Dictionary<string, string>
    {
        [FashionMnistFiles.TrainImagesName] = "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        [FashionMnistFiles.TrainLabelsName] = "25c81989df183df01b3e8a0aad5dffbe",
        [FashionMnistFiles.TestImagesName] = "bef4ecab320f06d8554ea6380940ec79",
        [FashionMnistFiles.TestLabelsName] = "bb300cfdad3c16e7a12a480ee83cd310",
    };

    private readonly HttpClient _http;
    private readonly Uri _baseUrl;
    private readonly IReadOnlyDictionary<string, string> _md5;
    private readonly TextWriter _log;

    /// <param name="http">The client to use (its lifetime is the caller's).</param>
    /// <param name="baseUrl">The directory URL that holds <c>NAME.gz</c> for each file.</param>
    /// <param name="md5">Expected MD5 (hex) per base name; the official table unless a test serves its own files.</param>
    /// <param name="log">Receives one line per file.</param>
    public FashionMnistDownloader(HttpClient http, Uri baseUrl, IReadOnlyDictionary<string, string> md5, TextWriter log)
    {
        ArgumentNullException.ThrowIfNull(baseUrl);
        _http = http;
        // Without a trailing slash, relative resolution would replace the last path segment.
        _baseUrl = baseUrl.AbsoluteUri.EndsWith('/') ? baseUrl : new Uri(baseUrl.AbsoluteUri + "/");
        _md5 = md5;
        _log = log;
    }

    /// <summary>Downloads the files missing from <paramref name="directory"/> (created if needed) and returns all four.</summary>
    /// <exception cref="DownloadException">A file could not be fetched or failed a check; no partial file is left.</exception>
    public async Task<FashionMnistFiles> DownloadAsync(string directory, CancellationToken cancellation = default)
    {
        try
        {
            Directory.CreateDirectory(directory);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            throw new DownloadException($"{directory}: cannot create the download directory: {e.Message}", e);
        }
        foreach (string name in FashionMnistFiles.Names)
        {
            string target = Path.Combine(directory, name + ".gz");
            if (Directory.Exists(target))
            {
                throw new DownloadException($"{target} is a directory, not a file; move it away to download {name}.gz");
            }
            if (File.Exists(target) || File.Exists(Path.Combine(directory, name)))
            {
                _log.WriteLine($"{name}: already present in {directory}");
                continue;
            }
            await DownloadOneAsync(name, target, cancellation).ConfigureAwait(false);
        }
        return FashionMnistFiles.TryFind(directory, out _)
            ?? throw new DownloadException($"{directory}: the downloaded files disappeared");
    }

    private async Task DownloadOneAsync(string name, string target, CancellationToken cancellation)
    {
        var url = new Uri(_baseUrl, name + ".gz");
        string temporary = $"{target}.{Environment.ProcessId}.{Guid.NewGuid():N}.part";
        try
        {
            string md5;
            long bytes;
            using (var response = await Get(url, cancellation).ConfigureAwait(false))
            {
                await using var body = await response.Content.ReadAsStreamAsync(cancellation).ConfigureAwait(false);
                await using var file = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16);
                (md5, bytes) = await CopyHashing(body, file, cancellation).ConfigureAwait(false);
                file.Flush(flushToDisk: true);
            }
            if (_md5.TryGetValue(name, out string? expected) && !string.Equals(md5, expected, StringComparison.OrdinalIgnoreCase))
            {
                throw new DownloadException($"{url}: MD5 {md5} does not match the published {expected}; the file was not kept");
            }
            try
            {
                _ = name.Contains("images", StringComparison.Ordinal) ? IdxReader.ReadImages(temporary) : IdxReader.ReadLabels(temporary);
            }
            catch (IdxFormatException e)
            {
                throw new DownloadException($"{url}: not a valid IDX file ({e.Message}); the file was not kept", e);
            }
            try
            {
                File.Move(temporary, target, overwrite: false);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new DownloadException($"{target}: cannot write the downloaded file: {e.Message}", e);
            }
            _log.WriteLine(FormattableString.Invariant($"{name}.gz: {bytes:N0} bytes from {url}, MD5 verified"));
        }
        finally
        {
            File.Delete(temporary);
        }
    }

    private async Task<HttpResponseMessage> Get(Uri url, CancellationToken cancellation)
    {
        HttpResponseMessage response;
        try
        {
            response = await _http.GetAsync(url, HttpCompletionOption.ResponseHeadersRead, cancellation).ConfigureAwait(false);
        }
        catch (HttpRequestException e)
        {
            throw new DownloadException($"{url}: {e.Message}", e);
        }
        catch (TaskCanceledException e) when (!cancellation.IsCancellationRequested)
        {
            throw new DownloadException($"{url}: timed out", e);
        }
        if (!response.IsSuccessStatusCode)
        {
            using (response)
            {
                throw new DownloadException($"{url}: HTTP {(int)response.StatusCode} {response.ReasonPhrase}");
            }
        }
        return response;
    }

    private static async Task<(string Md5, long Bytes)> CopyHashing(Stream source, Stream destination, CancellationToken cancellation)
    {
        // MD5 because it is what the dataset publishes; it guards against corruption, not tampering.
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.MD5);
        var buffer = new byte[1 << 16];
        long total = 0;
        try
        {
            int n;
            while ((n = await source.ReadAsync(buffer, cancellation).ConfigureAwait(false)) > 0)
            {
                hash.AppendData(buffer, 0, n);
                await destination.WriteAsync(buffer.AsMemory(0, n), cancellation).ConfigureAwait(false);
                total += n;
            }
        }
        catch (Exception e) when (e is IOException or ArgumentOutOfRangeException) // ArgumentOutOfRange: a file-size limit (EFBIG)
        {
            throw new DownloadException(FormattableString.Invariant($"download failed after {total:N0} bytes: {e.Message}"), e);
        }
        catch (HttpRequestException e)
        {
            throw new DownloadException(FormattableString.Invariant($"download failed after {total:N0} bytes: {e.Message}"), e);
        }
        return (Convert.ToHexStringLower(hash.GetHashAndReset()), total);
    }
}
