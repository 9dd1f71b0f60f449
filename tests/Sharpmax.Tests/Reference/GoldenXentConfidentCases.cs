// Golden confident, correct rows (the label holds the row max) from tests/golden/make_golden.py
// (write_xent_confident): xent_confident_cases.csv (one line per one-row case: C, label, the fill logit of the
// unlisted columns, loss, lse, their gradient) and xent_confident_logits.csv (the listed columns: logit, gradient).
//
//   var g = GoldenCases.XentConfidentCase("confident_m30_c10");
//   g.Logits (C floats), g.Label; g.Loss, g.Lse, g.Grad (C doubles; reduction sum, no smoothing)

namespace Sharpmax.Tests.Reference;

/// <summary>A one-row confident-correct golden case: float32 logits, float64 loss, lse and gradient of the sum.</summary>
public sealed record XentConfidentGoldenCase(string Name, int C, int Label, float[] Logits, double Loss, double Lse,
    double[] Grad, string Description)
{
    /// <inheritdoc/>
    public override string ToString() => Name;
}

public static partial class GoldenCases
{
    private static readonly Lazy<IReadOnlyList<XentConfidentGoldenCase>> s_xentConfident = new(() => LoadXentConfident(Directory));

    /// <summary>Every confident-correct case, in file order.</summary>
    public static IReadOnlyList<XentConfidentGoldenCase> XentConfident => s_xentConfident.Value;

    /// <summary>Case names, for [TestCaseSource].</summary>
    public static IEnumerable<string> XentConfidentNames() => XentConfident.Select(c => c.Name);

    /// <summary>The case called <paramref name="name"/>.</summary>
    public static XentConfidentGoldenCase XentConfidentCase(string name) =>
        XentConfident.FirstOrDefault(c => c.Name == name) ?? throw new KeyNotFoundException($"no golden confident-correct case '{name}'");

    /// <summary>Reads the confident-correct files of <paramref name="directory"/>.</summary>
    internal static List<XentConfidentGoldenCase> LoadXentConfident(string directory)
    {
        var listed = new Dictionary<string, List<CsvRecord>>();
        foreach (var r in Read(directory, "xent_confident_logits.csv"))
            Group(listed, r.Text("case")).Add(r);

        var cases = new List<XentConfidentGoldenCase>();
        foreach (var r in Read(directory, "xent_confident_cases.csv"))
        {
            string name = r.Text("case");
            int c = r.Int("c"), label = r.Int("label");
            if (c < 1 || label < 0 || label >= c)
                throw r.Malformed($"case {name}: label {label} is not a class of C = {c}");
            var logits = Enumerable.Repeat(r.Float("fill"), c).ToArray();
            var grad = Enumerable.Repeat(r.Double("grad_fill"), c).ToArray();
            bool labelListed = false;
            foreach (var e in listed.GetValueOrDefault(name) ?? [])
            {
                int col = e.Int("col");
                if (col < 0 || col >= c)
                    throw e.Malformed($"column {col} is outside case {name}'s C = {c}");
                logits[col] = e.Float("logit");
                grad[col] = e.Double("grad");
                labelListed |= col == label;
            }
            if (!labelListed)
                throw r.Malformed($"xent_confident_logits.csv must list the label's column {label} of case {name}");
            cases.Add(new XentConfidentGoldenCase(name, c, label, logits, r.Double("loss"), r.Double("lse"), grad, r.Text("description")));
        }
        var unknown = listed.Keys.Where(x => cases.All(g => g.Name != x)).ToList();
        if (unknown.Count > 0)
            throw Malformed(Path.Combine(directory, "xent_confident_logits.csv"),
                $"cases {string.Join(", ", unknown)} are not in xent_confident_cases.csv");
        return cases;
    }
}
