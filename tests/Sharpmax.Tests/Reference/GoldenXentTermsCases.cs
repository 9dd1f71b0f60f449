// Golden cases for the fused cross-entropy's optional terms (z-loss, softcap, class weights), from
// tests/golden/make_golden.py (write_xent_terms): xent_terms_cases.csv, xent_terms_weights.csv,
// xent_terms_rows.csv, xent_terms_values.csv. Every case is small and stored whole.
//
//   var g = GoldenCases.XentTermsCase("terms_weights_smooth_c10_n7_mean");
//   g.Logits, g.Labels, g.Weights (or null); g.Loss, g.RowLoss, g.Lse, g.ZLoss, g.Grad (N×C), g.Divisor

namespace Sharpmax.Tests.Reference;

/// <summary>A cross-entropy-terms golden case: float32 inputs, float64 expectations.</summary>
public sealed record XentTermsGoldenCase(
    string Name, int N, int C, RefReduction Reduction, int IgnoreIndex, double LabelSmoothing, double ZLossScale, double Softcap,
    float[]? Weights, float[] Logits, int[] Labels, double Divisor, double Loss, double[] RowLoss, double[] Lse, double[] ZLoss,
    double[] Grad, string Description)
{
    /// <inheritdoc/>
    public override string ToString() => Name;
}

public static partial class GoldenCases
{
    private static readonly Lazy<IReadOnlyList<XentTermsGoldenCase>> s_xentTerms = new(() => LoadXentTerms(Directory));

    /// <summary>Every cross-entropy-terms case, in file order.</summary>
    public static IReadOnlyList<XentTermsGoldenCase> XentTerms => s_xentTerms.Value;

    /// <summary>Case names, for [TestCaseSource].</summary>
    public static IEnumerable<string> XentTermsNames() => XentTerms.Select(c => c.Name);

    /// <summary>The case called <paramref name="name"/>.</summary>
    public static XentTermsGoldenCase XentTermsCase(string name) =>
        XentTerms.FirstOrDefault(c => c.Name == name) ?? throw new KeyNotFoundException($"no golden cross-entropy-terms case '{name}'");

    /// <summary>Reads the cross-entropy-terms files of <paramref name="directory"/>.</summary>
    internal static List<XentTermsGoldenCase> LoadXentTerms(string directory)
    {
        var weights = new Dictionary<string, List<(int Class, float Weight)>>();
        foreach (var r in Read(directory, "xent_terms_weights.csv"))
            Group(weights, r.Text("case")).Add((r.Int("class"), r.Float("weight")));
        var rows = new Dictionary<string, List<CsvRecord>>();
        foreach (var r in Read(directory, "xent_terms_rows.csv"))
            Group(rows, r.Text("case")).Add(r);
        var values = new Dictionary<string, List<CsvRecord>>();
        foreach (var r in Read(directory, "xent_terms_values.csv"))
            Group(values, r.Text("case")).Add(r);

        var cases = new List<XentTermsGoldenCase>();
        foreach (var r in Read(directory, "xent_terms_cases.csv"))
        {
            string name = r.Text("case");
            int n = r.Int("n"), c = r.Int("c");
            var caseRows = rows.GetValueOrDefault(name) ?? [];
            if (caseRows.Count != n || caseRows.Select((x, i) => x.Int("row") != i).Any(bad => bad))
                throw r.Malformed($"xent_terms_rows.csv must list rows 0..{n - 1} of case {name} in order");
            var caseValues = values.GetValueOrDefault(name) ?? [];
            if (caseValues.Count != n * c || caseValues.Select((x, i) => x.Int("row") * c + x.Int("col") != i).Any(bad => bad))
                throw r.Malformed($"xent_terms_values.csv must list the {n}×{c} elements of case {name} in row-major order");
            float[]? caseWeights = null;
            if (weights.TryGetValue(name, out var listed))
            {
                if (listed.Count != c || listed.Select((x, i) => x.Class != i).Any(bad => bad))
                    throw r.Malformed($"xent_terms_weights.csv must list classes 0..{c - 1} of case {name} in order");
                caseWeights = listed.Select(x => x.Weight).ToArray();
            }
            cases.Add(new XentTermsGoldenCase(name, n, c, ParseReduction(r), r.Int("ignore_index"), r.Double("label_smoothing"),
                r.Double("z_loss_scale"), r.Double("softcap"), caseWeights,
                caseValues.Select(x => x.Float("logit")).ToArray(), caseRows.Select(x => x.Int("label")).ToArray(),
                r.Double("divisor"), r.Double("loss"), caseRows.Select(x => x.Double("loss")).ToArray(),
                caseRows.Select(x => x.Double("lse")).ToArray(), caseRows.Select(x => x.Double("z_loss")).ToArray(),
                caseValues.Select(x => x.Double("grad")).ToArray(), r.Text("description")));
        }
        var known = cases.Select(x => x.Name).ToHashSet();
        foreach (var (file, names) in new (string, IEnumerable<string>)[]
                     { ("xent_terms_weights.csv", weights.Keys), ("xent_terms_rows.csv", rows.Keys), ("xent_terms_values.csv", values.Keys) })
        {
            var unknown = names.Where(x => !known.Contains(x)).ToList();
            if (unknown.Count > 0)
                throw Malformed(Path.Combine(directory, file), $"cases {string.Join(", ", unknown)} are not in xent_terms_cases.csv");
        }
        return cases;
    }
}
