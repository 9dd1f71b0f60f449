using NUnit.Framework;
using Sharpmax.Cli.Stability;

namespace Sharpmax.Tests.Cli;

[TestFixture(DeviceKind.Cpu)]
[TestFixture(DeviceKind.Cuda)]
public sealed class StabilityKernelTests(DeviceKind kind) : DeviceTestBase(kind)
{
    [Test]
    public void The_kernels_tell_the_same_story_as_the_float32_emulations()
    {
        foreach (var row in StabilityTable.Rows(Device))
        {
            string where = $"M = {row.Magnitude}, y = {row.Label}";
            // The naive chain is softmax, log, clip: the same float32 steps as the emulation, up to the rounding of
            // exp and the row sum (a few ulps of a value near 1, i.e. 1e-6 absolute on small losses).
            Assert.That(row.NaiveKernels!.Value, Is.EqualTo(row.ShiftedClipped).Within(1e-6 + 1e-6 * Math.Abs(row.ShiftedClipped)), where);
            // The fused kernel follows float64 as closely as the fused emulation does.
            Assert.That(row.FusedKernel!.Value, Is.EqualTo(row.Reference).Within(1e-6 + 1e-6 * Math.Abs(row.Reference)), where);
            // Issue 11: a confident, correct row keeps its tiny loss to 2 ulp (log1p of the rest; 0 before at M = 30),
            // wherever its terms e^-M are normal floats (M <= 87; the kernels flush exp below FLT_MIN to 0).
            if (row.Label == 0 && row.Magnitude <= 87)
                Assert.That(Math.Abs(row.FusedKernel.Value - row.Reference), Is.LessThanOrEqualTo(2 * Math.ScaleB(1.0, Math.ILogB((float)row.Reference) - 23)), where);
        }
    }
}
