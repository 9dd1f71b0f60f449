using NUnit.Framework;
using Sharpmax.Interop;

namespace Sharpmax.Tests;

/// <summary>The probing that finds cuBLAS (and every native library), run against a fake file system and loader.</summary>
public sealed class NativeLibraryProbingTests
{
    private const string AppDirectory = "/opt/app";

    [Test]
    public void Cuda_13_s_cublas_is_found_where_it_is_the_only_one([Values] bool windows)
    {
        var file = windows ? "cublas64_13.dll" : "libcublas.so.13";
        var resolver = new FakeResolver(onSearchPath: [file]);
        Assert.That(CublasApi.TryOpenLibrary(resolver, windows, out var handle, out var name, out var failure), Is.True, failure);
        Assert.That(name, Is.EqualTo(file));
        Assert.That(handle, Is.EqualTo(FakeResolver.HandleOf(file)));
    }

    [Test]
    public void The_newest_cublas_wins_and_a_copy_beside_the_application_comes_before_the_search_path()
    {
        var resolver = new FakeResolver(onSearchPath: ["libcublas.so.11", "libcublas.so.12", "libcublas.so.13"]);
        Assert.That(CublasApi.TryOpenLibrary(resolver, windows: false, out _, out var name, out _), Is.True);
        Assert.That(name, Is.EqualTo("libcublas.so.13"), "13 before 12 and 11");

        var beside = new FakeResolver(onSearchPath: ["libcublas.so.13"], besideApp: ["libcublas.so.13"]);
        Assert.That(CublasApi.TryOpenLibrary(beside, windows: false, out _, out name, out _), Is.True);
        Assert.That(name, Is.EqualTo(Path.Combine(AppDirectory, "libcublas.so.13")));

        var older = new FakeResolver(onSearchPath: ["libcublas.so.12"]);
        Assert.That(CublasApi.TryOpenLibrary(older, windows: false, out _, out name, out _), Is.True);
        Assert.That(name, Is.EqualTo("libcublas.so.12"), "a CUDA 12 machine still works");
    }

    [Test]
    public void A_copy_that_does_not_load_is_named_and_the_next_candidate_is_tried()
    {
        var resolver = new FakeResolver(onSearchPath: ["libcublas.so.12"], besideApp: ["libcublas.so.13"], broken: ["libcublas.so.13"]);
        Assert.That(CublasApi.TryOpenLibrary(resolver, windows: false, out _, out var name, out _), Is.True);
        Assert.That(name, Is.EqualTo("libcublas.so.12"));
        Assert.That(resolver.Tried, Is.EqualTo(new[] { Path.Combine(AppDirectory, "libcublas.so.13"), "libcublas.so.13", "libcublas.so.12" }));
    }

    [Test]
    public void Without_cublas_the_failure_names_every_file_tried()
    {
        var resolver = new FakeResolver(onSearchPath: [], besideApp: ["libcublas.so.13"], broken: ["libcublas.so.13"]);
        Assert.That(CublasApi.TryOpenLibrary(resolver, windows: false, out var handle, out _, out var failure), Is.False);
        Assert.Multiple(() =>
        {
            Assert.That(handle, Is.EqualTo((nint)0));
            Assert.That(failure, Does.Contain("/opt/app/libcublas.so.13 exists but does not load: missing libcublasLt.so.13"));
            Assert.That(failure, Does.Contain("libcublas.so.12 is not in /opt/app"));
            Assert.That(failure, Does.Contain("libcublas.so.11 is not in /opt/app"));
        });
    }

    private sealed class FakeResolver(string[] onSearchPath, string[]? besideApp = null, string[]? broken = null) : LibraryResolver
    {
        public List<string> Tried { get; } = [];

        public override string Directory => AppDirectory;

        public static nint HandleOf(string name) => 1000 + name.Length * 7 + name[^1];

        public override bool FileExists(string path) =>
            Path.GetDirectoryName(path) == AppDirectory && (besideApp ?? []).Contains(Path.GetFileName(path));

        public override nint LoadFile(string path)
        {
            Tried.Add(path);
            var name = Path.GetFileName(path);
            if ((broken ?? []).Contains(name))
                throw new DllNotFoundException($"missing {name.Replace("cublas", "cublasLt", StringComparison.Ordinal)}");
            return HandleOf(name);
        }

        public override bool TryLoadByName(string name, out nint handle)
        {
            Tried.Add(name);
            handle = onSearchPath.Contains(name) ? HandleOf(name) : 0;
            return handle != 0;
        }
    }
}
