using NUnit.Framework;

namespace Sharpmax.Tests;

/// <summary>The tests run the CPU device in its checked mode even under a plain <c>dotnet test</c>: the project's
/// checked.runsettings sets SHARPMAX_CHECKED=1, and the host library reads it when it loads.</summary>
[TestFixture(DeviceKind.Cpu)]
public sealed class CheckedModeDefaultTests(DeviceKind kind) : DeviceTestBase(kind)
{
    [Test]
    public void The_test_run_sets_the_checked_mode_variable() =>
        Assert.That(Environment.GetEnvironmentVariable("SHARPMAX_CHECKED"), Is.EqualTo("1"),
            "tests/Sharpmax.Tests/checked.runsettings should set it for every run");

    [Test]
    public void The_cpu_device_runs_in_its_checked_mode() =>
        Assert.That(Device.IsCheckedMode(), Is.True, "a test that turned the checked mode off must restore it");
}
