using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using NUnit.Framework;
using Sharpmax.Tests.Cli;
using Sharpmax.Tests.Reference;

namespace Sharpmax.Tests.Embedding;

/// <summary>
/// The NuGet package as a user gets it: <c>dotnet pack</c> into a folder feed, a fresh console project that
/// references Sharpmax from that feed (with a packages folder of its own, so no cached copy stands in for the new
/// package), restore, build, run. The program runs fused cross-entropy, and the fused linear + cross-entropy of the
/// same rows, on the CPU device through the package's native library and prints the losses and gradients, which
/// are checked against the float64 reference.
/// </summary>
[TestFixture]
[Category("Package")]
[NonParallelizable]
public sealed class PackageConsumerTests
{
    private const string Version = "0.1.0";
    private const int N = 6, C = 7;
    private const float Smoothing = 0.1f;

    // Pack, restore and build take about a minute here; the deadline bounds a hung restore.
    private static readonly TimeSpan TimeBox = TimeSpan.FromMinutes(4);

    // The assembly with its XML docs (and the PTX inside it), the CPU device's native library, the README.
    private static readonly string[] RequiredPackageFiles =
    [
        "README.md",
        "lib/net10.0/Sharpmax.dll",
        "lib/net10.0/Sharpmax.xml",
        "runtimes/linux-x64/native/libsharpmax_host.so",
    ];

    [Test]
    public void Consumer_project_restores_the_package_from_a_folder_feed_and_runs_fused_cross_entropy_on_the_cpu()
    {
        if (RuntimeInformation.RuntimeIdentifier != "linux-x64")
            Assert.Ignore($"The package carries the CPU device for linux-x64 only; this is {RuntimeInformation.RuntimeIdentifier}.");
        var root = SourceTree.Root();
        if (root is null)
            Assert.Ignore($"No Sharpmax.slnx above {TestContext.CurrentContext.TestDirectory} or this source file: not running from a source tree.");
        var nativeDir = Path.Combine(root, "build", "native");
        Assert.That(Path.Combine(nativeDir, "lib", "libsharpmax_host.so"), Does.Exist,
            "The package needs the host library: run ./build.sh (or the CMake build) first.");

        // With a CUDA compiler the build makes PTX and the package must carry all of it; without one, only a
        // CPU-only package asked for by name can be packed (PackGuardTests covers the refusal).
        var expectedPtx = SourceTree.KernelNames(root).Select(name => $"ptx/{name}.ptx").ToArray();
        bool gpuPackage = SourceTree.NvccOnPath()
            || (Directory.Exists(Path.Combine(nativeDir, "ptx")) && Directory.EnumerateFiles(Path.Combine(nativeDir, "ptx"), "*.ptx").Any());
        if (!gpuPackage)
            TestContext.Out.WriteLine("No nvcc on PATH and no PTX built: packing a CPU-only package (-p:SharpmaxCpuOnly=true).");

        var deadline = DateTime.UtcNow + TimeBox;
        using var temp = new TempDirectory();
        var feed = Directory.CreateDirectory(temp.File("feed")).FullName;

        var pack = ProcessRunner.RunDotnet(root, deadline, "pack", Path.Combine(root, "src", "Sharpmax", "Sharpmax.csproj"),
            "-c", "Release", "-o", feed, "--artifacts-path", temp.File("artifacts"), "-nologo", "-nodeReuse:false",
            $"-p:SharpmaxNativeDir={nativeDir}{Path.DirectorySeparatorChar}", $"-p:SharpmaxCpuOnly={(gpuPackage ? "false" : "true")}");
        Assert.That(pack.ExitCode, Is.Zero, "dotnet pack failed:\n" + pack.Output);
        var package = Path.Combine(feed, $"Sharpmax.{Version}.nupkg");
        CheckPackageFiles(package);
        if (gpuPackage)
            Assert.That(PackageContents.EmbeddedResources(package), Is.SupersetOf(expectedPtx), "The package's Sharpmax.dll lacks PTX.");

        var rng = new RandomData(20251123);
        float[] logits = rng.Logits(N, C);
        int[] labels = rng.Labels(N, C);
        labels[1] = RandomData.IgnoreIndex;
        var project = Directory.CreateDirectory(temp.File("consumer")).FullName;
        WriteConsumer(project, feed, temp.File("packages"), logits, labels);

        var restore = ProcessRunner.RunDotnet(project, deadline, "restore", "-nologo");
        Assert.That(restore.ExitCode, Is.Zero, "dotnet restore of the consumer failed:\n" + restore.Output);
        var build = ProcessRunner.RunDotnet(project, deadline, "build", "-c", "Release", "--no-restore", "-nologo", "-nodeReuse:false");
        Assert.That(build.ExitCode, Is.Zero, "dotnet build of the consumer failed:\n" + build.Output);
        var run = ProcessRunner.RunDotnet(project, deadline, Path.Combine(project, "bin", "Release", "net10.0", "Consumer.dll"));
        TestContext.Out.WriteLine(run.Output);
        Assert.That(run.ExitCode, Is.Zero, "The consumer program failed:\n" + run.Output);

        var printed = ParseOutput(run.Output);
        Assert.That(printed["device"], Does.StartWith("CPU device"));
        if (gpuPackage)
            Assert.That(printed["ptx"].Split(','), Is.SupersetOf(expectedPtx), "The consumer's Sharpmax.dll does not carry the PTX.");
        var reference = ReferenceOps.CrossEntropy(logits, labels, N, C, RefReduction.Mean, RandomData.IgnoreIndex, Smoothing);
        // float32 kernel against float64: a few ulps through max, exp-sum and log (the ops tests' tolerance).
        AssertClose.Scalar(ParseFloat(printed["loss"]), reference.Loss, atol: 1e-6, rtol: 1e-5, "mean loss from the package");
        var gradient = printed["grad"].Split(',').Select(ParseFloat).Select(v => (float)v).ToArray();
        AssertClose.Tensor(gradient, reference.Gradient, atol: 1e-6, rtol: 1e-5, "gradient from the package", cols: C);
        // LinearCrossEntropy with W = I: the same logits exactly, so the same reference and tolerance.
        AssertClose.Scalar(ParseFloat(printed["linear loss"]), reference.Loss, atol: 1e-6, rtol: 1e-5, "LinearCrossEntropy's loss from the package");
        var linearGradient = printed["linear dH"].Split(',').Select(ParseFloat).Select(v => (float)v).ToArray();
        AssertClose.Tensor(linearGradient, reference.Gradient, atol: 1e-6, rtol: 1e-5, "LinearCrossEntropy's dH from the package", cols: C);
    }

    private static void CheckPackageFiles(string package)
    {
        Assert.That(package, Does.Exist);
        var entries = PackageContents.Entries(package);
        TestContext.Out.WriteLine($"{Path.GetFileName(package)}:\n  " + string.Join("\n  ", entries));
        Assert.That(entries, Is.SupersetOf(RequiredPackageFiles));
    }

    // A folder feed for Sharpmax (source mapping: only there), the usual registry for anything else, and a packages
    // folder of its own so that an older Sharpmax 0.1.0 in the user's cache cannot stand in for the one just packed.
    private static void WriteConsumer(string project, string feed, string packages, float[] logits, int[] labels)
    {
        File.WriteAllText(Path.Combine(project, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <config>
                <add key="globalPackagesFolder" value="{packages}" />
              </config>
              <packageSources>
                <clear />
                <add key="sharpmax-local" value="{feed}" />
                <add key="nuget.org" value="https://api.nuget.org/v3/index.json" protocolVersion="3" />
              </packageSources>
              <packageSourceMapping>
                <packageSource key="sharpmax-local">
                  <package pattern="Sharpmax" />
                </packageSource>
                <packageSource key="nuget.org">
                  <package pattern="*" />
                </packageSource>
              </packageSourceMapping>
            </configuration>
            """);
        File.WriteAllText(Path.Combine(project, "Consumer.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <Nullable>enable</Nullable>
                <ImplicitUsings>enable</ImplicitUsings>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="Sharpmax" Version="{Version}" />
              </ItemGroup>
            </Project>
            """);
        File.WriteAllText(Path.Combine(project, "Program.cs"), $$"""
            using System.Globalization;
            using Sharpmax;
            using Sharpmax.Ops;

            float[] logits = [{{string.Join(", ", logits.Select(v => v.ToString("R", CultureInfo.InvariantCulture) + "f"))}}];
            int[] labels = [{{string.Join(", ", labels.Select(v => v.ToString(CultureInfo.InvariantCulture)))}}];
            const int n = {{N}}, c = {{C}};

            using var device = Device.Open(DeviceKind.Cpu);
            using var x = device.Upload<float>(logits);
            using var y = device.Upload<int>(labels);
            using var grad = device.Allocate<float>(n * c);
            using var xent = new FusedCrossEntropy(device, new CrossEntropyOptions { LabelSmoothing = {{Smoothing.ToString("R", CultureInfo.InvariantCulture)}}f });
            float loss = xent.ForwardBackward(x, y, n, c, grad);

            // The fused linear + cross-entropy of the same rows: H = the logits (K = C), W = the C×C identity, stored
            // C×K as a language model's head, so H·Wᵀ is the logits exactly and dH is their gradient.
            var eye = new float[c * c];
            for (int i = 0; i < c; i++) eye[i * c + i] = 1f;
            using var w = device.Upload<float>(eye);
            using var dh = device.Allocate<float>(n * c);
            using var lxent = new LinearCrossEntropy(device, new CrossEntropyOptions { LabelSmoothing = {{Smoothing.ToString("R", CultureInfo.InvariantCulture)}}f });
            float linearLoss = lxent.ForwardBackward(new(x, n, c), new(w, c, c), WeightLayout.ClassesByInputs, bias: null, y,
                dHidden: new(dh, n, c), dWeight: null, dBias: null);

            static string Text(float v) => v.ToString("R", CultureInfo.InvariantCulture);
            Console.WriteLine("device: " + device.Description);
            Console.WriteLine("ptx: " + string.Join(",", typeof(Device).Assembly.GetManifestResourceNames().Order(StringComparer.Ordinal)));
            Console.WriteLine("loss: " + Text(loss));
            Console.WriteLine("grad: " + string.Join(",", grad.ToArray().Select(Text)));
            Console.WriteLine("linear loss: " + Text(linearLoss));
            Console.WriteLine("linear dH: " + string.Join(",", dh.ToArray().Select(Text)));
            """, Encoding.UTF8);
    }

    private static Dictionary<string, string> ParseOutput(string output)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in output.Split('\n', StringSplitOptions.TrimEntries))
        {
            int colon = line.IndexOf(": ", StringComparison.Ordinal);
            if (colon > 0)
                values[line[..colon]] = line[(colon + 2)..];
        }
        foreach (var key in new[] { "device", "ptx", "loss", "grad", "linear loss", "linear dH" })
            Assert.That(values, Does.ContainKey(key), $"The consumer printed no \"{key}:\" line:\n{output}");
        return values;
    }

    private static double ParseFloat(string text) => float.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture);
}
