using NUnit.Framework;
using Sharpmax.Tests.Cli;

namespace Sharpmax.Tests.Embedding;

/// <summary>
/// <c>dotnet pack</c> of src/Sharpmax against a staged native folder: a package without the PTX of every kernel
/// file (which could never run on a GPU) or without the host library is refused with an error that names what is
/// missing and how to fix it, unless a CPU-only package is asked for by name with <c>-p:SharpmaxCpuOnly=true</c>.
/// The staged files are placeholders: the checks are about which files exist, and nothing packed here is run.
/// </summary>
[TestFixture]
[Category("Package")]
[NonParallelizable]
public sealed class PackGuardTests
{
    private static readonly TimeSpan TimeBox = TimeSpan.FromMinutes(4);

    [Test]
    public void Pack_without_any_ptx_is_refused_naming_every_missing_file_and_the_two_ways_out()
    {
        var root = RootOrIgnore();
        using var temp = new TempDirectory();
        var nativeDir = StageNative(temp, hostLibrary: true, ptxFor: []);

        var result = Pack(root, temp, nativeDir);

        Assert.That(result.ExitCode, Is.Not.Zero, "pack succeeded without PTX:\n" + result.Output);
        var missing = string.Join(", ", SourceTree.KernelNames(root).Select(name => name + ".ptx"));
        Assert.That(result.Output, Does.Contain("error SHARPMAX003"));
        Assert.That(result.Output, Does.Contain($"no PTX for {missing} in {nativeDir}ptx/"));
        Assert.That(result.Output, Does.Contain("-p:SharpmaxCpuOnly=true"));
        Assert.That(result.Output, Does.Contain("./build.sh"));
        Assert.That(Directory.GetFiles(temp.File("feed")), Is.Empty, "a refused pack left a package behind");
    }

    [Test]
    public void Pack_missing_one_kernel_files_ptx_is_refused_naming_only_that_file()
    {
        var root = RootOrIgnore();
        var kernels = SourceTree.KernelNames(root);
        Assert.That(kernels, Has.Length.GreaterThan(1));
        var absent = kernels[^1];
        using var temp = new TempDirectory();
        var nativeDir = StageNative(temp, hostLibrary: true, ptxFor: kernels[..^1]);

        var result = Pack(root, temp, nativeDir);

        Assert.That(result.ExitCode, Is.Not.Zero, $"pack succeeded without {absent}.ptx:\n" + result.Output);
        Assert.That(result.Output, Does.Contain($"no PTX for {absent}.ptx in {nativeDir}ptx/"));
    }

    [Test]
    public void Pack_without_the_host_library_is_refused()
    {
        var root = RootOrIgnore();
        using var temp = new TempDirectory();
        var nativeDir = StageNative(temp, hostLibrary: false, ptxFor: SourceTree.KernelNames(root));

        var result = Pack(root, temp, nativeDir);

        Assert.That(result.ExitCode, Is.Not.Zero, "pack succeeded without the host library:\n" + result.Output);
        Assert.That(result.Output, Does.Contain("error SHARPMAX002"));
        Assert.That(result.Output, Does.Contain($"no host library (libsharpmax_host.so or sharpmax_host.dll) in {nativeDir}lib/"));
    }

    [TestCase("maybe")]
    [TestCase("1")]
    public void Pack_rejects_a_SharpmaxCpuOnly_value_other_than_true_or_false(string value)
    {
        var root = RootOrIgnore();
        using var temp = new TempDirectory();
        var nativeDir = StageNative(temp, hostLibrary: true, ptxFor: []);

        var result = Pack(root, temp, nativeDir, $"-p:SharpmaxCpuOnly={value}");

        Assert.That(result.ExitCode, Is.Not.Zero, "pack accepted SharpmaxCpuOnly=" + value + ":\n" + result.Output);
        Assert.That(result.Output, Does.Contain($"SharpmaxCpuOnly must be true or false, not '{value}'"));
    }

    [Test]
    public void Pack_makes_a_cpu_only_package_without_ptx_when_asked_for_by_name()
    {
        var root = RootOrIgnore();
        using var temp = new TempDirectory();
        var nativeDir = StageNative(temp, hostLibrary: true, ptxFor: []);

        var result = Pack(root, temp, nativeDir, "-p:SharpmaxCpuOnly=true");

        Assert.That(result.ExitCode, Is.Zero, "CPU-only pack failed:\n" + result.Output);
        Assert.That(result.Output, Does.Contain("CPU-only (SharpmaxCpuOnly=true): no PTX for"));
        var package = Path.Combine(temp.File("feed"), "Sharpmax.0.1.0.nupkg");
        Assert.That(PackageContents.Entries(package), Does.Contain("runtimes/linux-x64/native/libsharpmax_host.so"));
        Assert.That(PackageContents.EmbeddedResources(package).Where(name => name.StartsWith("ptx/", StringComparison.Ordinal)), Is.Empty);
    }

    private static string RootOrIgnore()
    {
        var root = SourceTree.Root();
        if (root is null)
            Assert.Ignore($"No Sharpmax.slnx above {TestContext.CurrentContext.TestDirectory}: not running from a source tree.");
        return root;
    }

    // A native folder laid out like build/native: lib/ with the host library, ptx/ with one file per named kernel.
    private static string StageNative(TempDirectory temp, bool hostLibrary, IEnumerable<string> ptxFor)
    {
        var nativeDir = temp.File("native") + Path.DirectorySeparatorChar;
        Directory.CreateDirectory(Path.Combine(nativeDir, "lib"));
        Directory.CreateDirectory(Path.Combine(nativeDir, "ptx"));
        if (hostLibrary)
            File.WriteAllText(Path.Combine(nativeDir, "lib", "libsharpmax_host.so"), "placeholder");
        foreach (var kernel in ptxFor)
            File.WriteAllText(Path.Combine(nativeDir, "ptx", kernel + ".ptx"), "// placeholder\n");
        return nativeDir;
    }

    private static ProcessResult Pack(string root, TempDirectory temp, string nativeDir, params string[] extra)
    {
        var feed = Directory.CreateDirectory(temp.File("feed")).FullName;
        string[] arguments =
        [
            "pack", Path.Combine(root, "src", "Sharpmax", "Sharpmax.csproj"), "-c", "Release", "-o", feed,
            "--artifacts-path", temp.File("artifacts"), "-nologo", "-nodeReuse:false", $"-p:SharpmaxNativeDir={nativeDir}",
            .. extra,
        ];
        var result = ProcessRunner.RunDotnet(root, DateTime.UtcNow + TimeBox, arguments);
        TestContext.Out.WriteLine(result.Output);
        return result;
    }
}
