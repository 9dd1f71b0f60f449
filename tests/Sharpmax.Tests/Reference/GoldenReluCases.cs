// Golden cases for ReLU and the fused linear epilogues, from tests/golden/make_golden.py (write_relu,
// write_linear_relu): relu.csv, linear_relu_cases.csv, linear_relu_values.csv.
//
//   foreach (var r in GoldenCases.Relu) { r.X, r.DY; r.Y, r.DX }              (exact float32 values)
//   var g = GoldenCases.LinearReluCase("linrelu_6x256x10"); g.X (or g.Pixels), g.W, g.B, g.DY, g.A; g.Y, g.DX
namespace Sharpmax.Tests.Reference;

/// <summary>A ReLU golden case: y = relu(x), dx = dy where y &gt; 0 (NaN passes), exact float32 values.</summary>
public sealed record ReluGoldenCase(string Name, float[] X, float[] DY, float[] Y, float[] DX)
{
    /// <inheritdoc/>
    public override string ToString() => Name;
}

/// <summary>A fused-epilogue golden case: Y = relu(X·W + b) and dX = (dY·Wᵀ) ⊙ [A &gt; 0] (row-major).</summary>
/// <param name="Pixels">N×K bytes when the input is u8 (the layer sees byte/255), else null.</param>
/// <param name="A">N×K float32: the saved activation that masks dX.</param>
public sealed record LinearReluGoldenCase(
    string Name, int N, int K, int C, byte[]? Pixels, float[] X, float[] W, float[] B, float[] DY, float[] A,
    double[] Y, double[] DX)
{
    /// <inheritdoc/>
    public override string ToString() => Name;
}

public static partial class GoldenCases
{
    private static readonly Lazy<IReadOnlyList<ReluGoldenCase>> s_relu = new(() => LoadRelu(Directory));
    private static readonly Lazy<IReadOnlyList<LinearReluGoldenCase>> s_linearRelu = new(() => LoadLinearRelu(Directory));

    /// <summary>Every ReLU case, in file order.</summary>
    public static IReadOnlyList<ReluGoldenCase> Relu => s_relu.Value;

    /// <summary>Every fused linear + ReLU case, in file order.</summary>
    public static IReadOnlyList<LinearReluGoldenCase> LinearRelu => s_linearRelu.Value;

    /// <summary>Case names, for [TestCaseSource].</summary>
    public static IEnumerable<string> ReluNames() => Relu.Select(c => c.Name);

    /// <summary>Case names, for [TestCaseSource].</summary>
    public static IEnumerable<string> LinearReluNames() => LinearRelu.Select(c => c.Name);

    /// <summary>The ReLU case called <paramref name="name"/>.</summary>
    public static ReluGoldenCase ReluCase(string name) =>
        Relu.FirstOrDefault(c => c.Name == name) ?? throw new KeyNotFoundException($"no golden ReLU case '{name}'");

    /// <summary>The fused case called <paramref name="name"/>.</summary>
    public static LinearReluGoldenCase LinearReluCase(string name) =>
        LinearRelu.FirstOrDefault(c => c.Name == name) ?? throw new KeyNotFoundException($"no golden fused linear case '{name}'");

    /// <summary>Reads relu.csv of <paramref name="directory"/>.</summary>
    internal static List<ReluGoldenCase> LoadRelu(string directory)
    {
        var cases = new List<ReluGoldenCase>();
        foreach (var group in Read(directory, "relu.csv").GroupBy(r => r.Text("case")))
        {
            var rows = group.ToList();
            for (int i = 0; i < rows.Count; i++)
                if (rows[i].Int("index") != i)
                    throw rows[i].Malformed($"relu case {group.Key} must list indices 0..{rows.Count - 1} in order");
            cases.Add(new ReluGoldenCase(group.Key, rows.Select(r => r.Float("x")).ToArray(), rows.Select(r => r.Float("dy")).ToArray(),
                rows.Select(r => r.Float("y")).ToArray(), rows.Select(r => r.Float("dx")).ToArray()));
        }
        return cases;
    }

    /// <summary>Reads the fused linear files of <paramref name="directory"/>.</summary>
    internal static List<LinearReluGoldenCase> LoadLinearRelu(string directory)
    {
        var cases = new List<LinearReluGoldenCase>();
        foreach (var t in MatrixCaseTensors.Read(directory, "linear_relu_cases.csv", "linear_relu_values.csv"))
        {
            var (pixels, x) = t.Input();
            cases.Add(new LinearReluGoldenCase(t.Name, t.N, t.K, t.C, pixels, x, t.Floats("W", t.K, t.C), t.Floats("b", 1, t.C),
                t.Floats("dY", t.N, t.C), t.Floats("A", t.N, t.K), t.Doubles("Y", t.N, t.C), t.Doubles("dX", t.N, t.K)));
        }
        return cases;
    }
}
