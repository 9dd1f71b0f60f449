using System.Reflection;
using System.Text.RegularExpressions;
using NUnit;
using NUnit.Framework.Api;
using NUnit.Framework.Interfaces;

namespace Sharpmax.GpuCheck;

/// <summary>
/// The <c>tests</c> command: loads Sharpmax.Tests.dll into this process with NUnit's framework runner (no test
/// engine, no SDK) and runs the device fixtures of one kind, filtered by full-name regexes. Prints every failure
/// with its message and ends with "N passed, N failed, N skipped". Exit code 1 when a test failed, or when
/// <c>requireRun</c> and nothing passed (a CUDA run where every fixture skipped proves nothing).
/// </summary>
internal static class FixtureRun
{
    public static int Run(DeviceKind kind, Regex? include, Regex? exclude, bool requireRun, string workDirectory, TextWriter log)
    {
        Directory.CreateDirectory(workDirectory);
        var assembly = typeof(Sharpmax.Tests.DeviceTestBase).Assembly;
        var runner = new NUnitTestAssemblyRunner(new DefaultTestAssemblyBuilder());
        var settings = new Dictionary<string, object>
        {
            [FrameworkPackageSettings.NumberOfTestWorkers] = 0,  // device fixtures must not run in parallel
            [FrameworkPackageSettings.WorkDirectory] = workDirectory,
            [FrameworkPackageSettings.RandomSeed] = 0,
        };
        runner.Load(assembly, settings);
        if (runner.LoadFailed())
        {
            log.WriteLine($"error: NUnit could not load {assembly.Location}: {runner.LoadedTest?.Properties.Get("_SKIPREASON")}");
            return 1;
        }

        var listener = new CountingListener(log);
        runner.Run(listener, new DeviceFixtureFilter(kind, include, exclude));
        log.WriteLine($"{listener.Passed} passed, {listener.Failed} failed, {listener.Skipped} skipped ({kind} fixtures of {Path.GetFileName(assembly.Location)})");
        foreach (var (reason, count) in listener.SkipReasons.OrderByDescending(r => r.Value).Take(5))
            log.WriteLine($"  skipped {count}: {reason}");
        if (listener.Failed > 0)
            return 1;
        if (requireRun && listener.Passed == 0)
        {
            log.WriteLine("error: no test passed (every selected test skipped or none matched)");
            return 1;
        }
        return 0;
    }

    private static bool LoadFailed(this NUnitTestAssemblyRunner runner) => runner.LoadedTest?.RunState is null or RunState.NotRunnable;

    /// <summary>Counts finished test cases (not suites) and prints the failures.</summary>
    private sealed class CountingListener(TextWriter log) : ITestListener
    {
        public int Passed { get; private set; }
        public int Failed { get; private set; }
        public int Skipped { get; private set; }
        public Dictionary<string, int> SkipReasons { get; } = [];

        public void TestStarted(ITest test)
        {
        }

        public void TestFinished(ITestResult result)
        {
            if (result.Test.IsSuite)
            {
                if (result.ResultState.Status == TestStatus.Failed && result.ResultState.Site is FailureSite.SetUp or FailureSite.TearDown)
                    log.WriteLine($"FAIL {result.FullName} ({result.ResultState.Site}): {result.Message}");
                return;
            }
            switch (result.ResultState.Status)
            {
                case TestStatus.Passed:
                case TestStatus.Warning:
                    Passed++;
                    break;
                case TestStatus.Failed:
                    Failed++;
                    log.WriteLine($"FAIL {result.FullName}: {result.Message}");
                    if (!string.IsNullOrEmpty(result.StackTrace))
                        log.WriteLine(string.Join('\n', result.StackTrace.Split('\n').Take(4)));
                    break;
                default:
                    Skipped++;
                    string reason = string.IsNullOrEmpty(result.Message) ? result.ResultState.ToString() : result.Message.Split('\n')[0];
                    SkipReasons[reason] = SkipReasons.GetValueOrDefault(reason) + 1;
                    break;
            }
        }

        public void TestOutput(TestOutput output) => log.Write(output.Text);

        public void SendMessage(TestMessage message)
        {
        }
    }
}
