using System.Text.RegularExpressions;
using NUnit.Framework.Interfaces;
using NUnit.Framework.Internal;

namespace Sharpmax.GpuCheck;

/// <summary>
/// Selects the test cases of the fixtures parameterized by one <see cref="DeviceKind"/> (see DeviceTestBase), whose
/// full name matches <c>include</c> and not <c>exclude</c>. Only leaves match; NUnit then runs the suites above them.
/// </summary>
internal sealed class DeviceFixtureFilter(DeviceKind kind, Regex? include, Regex? exclude) : TestFilter
{
    /// <inheritdoc/>
    public override bool Match(ITest test)
    {
        if (test.IsSuite || !OnDevice(test))
            return false;
        return (include is null || include.IsMatch(test.FullName)) && (exclude is null || !exclude.IsMatch(test.FullName));
    }

    /// <inheritdoc/>
    public override TNode AddToXml(TNode parentNode, bool recursive) => parentNode.AddElement("device", kind.ToString());

    private bool OnDevice(ITest test)
    {
        for (ITest? t = test; t is not null; t = t.Parent)
        {
            if (t.Arguments.Any(a => a is DeviceKind k && k == kind))
                return true;
        }
        return false;
    }
}
