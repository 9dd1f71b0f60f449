// Shapes, variants and logits shared by the softmax and cross-entropy tests.
//
//   RowCases.Logits(seed, n, c)   seeded uniform logits in [-8, 8) with, when N >= 6, the extreme rows:
//     row 0  ±1e4 entries around ordinary ones      row 3  all -inf (fully masked)
//     row 1  -inf entries, never all of them        row 4  one entry the max by 1e4
//     row 2  all equal (3.5)                        row 5  logits near 88.7, where float exp overflows
//   RowCases.Shapes              (variant, N, C) for every kernel variant that can run C:
//     C = 1, 10, 1000, 30000, 65537, 262144; N = 1 and N not a multiple of the block (37, or 7 when C is large).
using NUnit.Framework;
using Sharpmax.Ops;
using Sharpmax.Tests.Reference;

namespace Sharpmax.Tests.Ops;

public static class RowCases
{
    /// <summary>Row of all −∞ in <see cref="Logits"/> (when N ≥ 6).</summary>
    public const int MaskedRow = 3;

    // The CPU device allows 96 KiB of shared memory per block: the block kernel caches rows up to about 24000.
    private static readonly int[] s_blockColumns = [1, 10, 1000, 20000];
    private static readonly int[] s_columns = [1, 10, 1000, 30000, 65537, 262144];

    /// <summary>(variant, N, C) cases: every variant over the row lengths it supports.</summary>
    public static IEnumerable<TestCaseData> Shapes()
    {
        foreach (var variant in new[] { RowKernelVariant.Auto, RowKernelVariant.Row, RowKernelVariant.Warp, RowKernelVariant.Block, RowKernelVariant.Online })
        {
            var columns = variant switch
            {
                RowKernelVariant.Warp => [1, 10, 32, 33, 256, 257, 1000, 1024],
                RowKernelVariant.Block => s_blockColumns,
                _ => s_columns,
            };
            foreach (int c in columns)
                foreach (int n in c >= 30000 ? new[] { 1, 7 } : new[] { 1, 37 })
                    yield return new TestCaseData(variant, n, c).SetArgDisplayNames(variant.ToString(), $"N={n}", $"C={c}");
        }
    }

    /// <summary>Seeded logits, with the extreme rows described above when N ≥ 6.</summary>
    public static float[] Logits(ulong seed, int n, int c)
    {
        var x = new RandomData(seed).Logits(n, c);
        if (n < 6)
            return x;
        var row = (int r) => x.AsSpan(r * c, c);
        for (int j = 0; j < c; j++)
        {
            if (j % 3 == 0)
                row(0)[j] = j % 2 == 0 ? 1e4f : -1e4f;
            if ((j % 2 == 1 && j < c - 1) || (j == 0 && c > 2))
                row(1)[j] = float.NegativeInfinity;
        }
        row(2).Fill(3.5f);
        row(MaskedRow).Fill(float.NegativeInfinity);
        row(4)[c / 2] = 1e4f;
        for (int j = 0; j < c; j++)
            row(5)[j] = 88.7f + j % 5;
        return x;
    }

    /// <summary>Seeded labels in [0, C) with label 0 at row 0, C − 1 at row 1 and the ignore index at row 2 (when
    /// N ≥ 3) and at the masked row (when N ≥ 6: its loss has no reference value, see CrossEntropyTests).</summary>
    public static int[] Labels(ulong seed, int n, int c, double ignoreFraction = 0.0)
    {
        var labels = new RandomData(seed).Labels(n, c, ignoreFraction);
        if (n >= 3)
        {
            labels[0] = 0;
            labels[1] = c - 1;
            labels[2] = RandomData.IgnoreIndex;
        }
        if (n > MaskedRow + 2)
            labels[MaskedRow] = RandomData.IgnoreIndex;
        return labels;
    }
}
