// Golden cases from tests/golden/make_golden.py (NumPy, float64), read with CsvHelper.
//
//   foreach (var g in GoldenCases.CrossEntropy) { g.Logits; g.Labels; g.N; g.C; g.Reduction; ... }
//   var g = GoldenCases.CrossEntropyCase("c262144_n3_mean");
//   [TestCaseSource(typeof(GoldenCases), nameof(GoldenCases.CrossEntropyNames))] void T(string name)
//   foreach (var l in GoldenCases.Linear) { l.X (or l.Pixels), l.W, l.B, l.DY; l.Y, l.DX, l.DW, l.DB }
//   foreach (var s in GoldenCases.Sgd) { s.W, s.G, s.Lr, s.WeightDecay; s.Updated }
//
// A cross-entropy case also carries the softmax, log-softmax, argmax and accuracy golden
// values: Rows (per row: label, max, argmax, lse, loss, naive loss), Values (per element:
// softmax, log-softmax, gradient — every element of small cases, sampled columns of large
// ones) and Correct (rows whose argmax is the label). Seeded cases (C up to 262144) regenerate their logits with RandomData.GoldenUniform.
// Files are looked up in the test output's golden/ folder, then in tests/golden/ above it.
// A missing or malformed file fails with the path and the command that regenerates it.
using System.Globalization;
using CsvHelper;

namespace Sharpmax.Tests.Reference;

/// <summary>One row of a cross-entropy golden case.</summary>
public sealed record XentGoldenRow(int Row, int Label, float Max, int Argmax, double Lse, double Loss, double NaiveLoss);

/// <summary>Expected values at one element (row, col) of a cross-entropy golden case.</summary>
public sealed record XentGoldenValue(int Row, int Col, double Softmax, double LogSoftmax, double Grad);

/// <summary>A softmax/cross-entropy golden case: inputs and float64 expected results.</summary>
/// <param name="Logits">N×C float32, row-major (dense: ld = C).</param>
/// <param name="Labels">N labels in [0, C) or <paramref name="IgnoreIndex"/>.</param>
/// <param name="Count">Rows that are not ignored.</param>
/// <param name="Loss">The reduced loss (for None, the sum of row losses).</param>
/// <param name="NaiveLoss">The naive chain's reduced loss (clip at 1e-12).</param>
/// <param name="Correct">Rows whose argmax is their label (the accuracy kernel's count).</param>
public sealed record XentGoldenCase(
    string Name, int N, int C, RefReduction Reduction, int IgnoreIndex, double LabelSmoothing,
    float[] Logits, int[] Labels, int Count, double Loss, double NaiveLoss, int Correct, string Description,
    IReadOnlyList<XentGoldenRow> Rows, IReadOnlyList<XentGoldenValue> Values)
{
    /// <summary>True when <see cref="Values"/> holds every element, not a sample.</summary>
    public bool HasAllValues => Values.Count == (long)N * C;

    /// <inheritdoc/>
    public override string ToString() => Name;
}

/// <summary>A linear-layer golden case: Y = X·W + b and the backward products (row-major).</summary>
/// <param name="Pixels">N×K bytes when the input is u8 (the layer sees byte/255), else null.</param>
/// <param name="X">N×K floats; for u8 input, (float)(byte/255.0) for convenience.</param>
public sealed record LinearGoldenCase(
    string Name, int N, int K, int C, byte[]? Pixels, float[] X, float[] W, float[] B, float[] DY,
    double[] Y, double[] DX, double[] DW, double[] DB)
{
    /// <inheritdoc/>
    public override string ToString() => Name;
}

/// <summary>One SGD step over a vector: Updated = W − Lr·(G + WeightDecay·W), computed in float64.</summary>
public sealed record SgdGoldenCase(string Name, float Lr, float WeightDecay, float[] W, float[] G, double[] Updated)
{
    /// <inheritdoc/>
    public override string ToString() => Name;
}

/// <summary>Loads the golden CSV files once per test run.</summary>
public static partial class GoldenCases
{
    /// <summary>How to regenerate the files, quoted in every loader error.</summary>
    public const string RegenerateCommand = "/usr/bin/python3 tests/golden/make_golden.py";

    private static readonly Lazy<string> s_directory = new(Locate);
    private static readonly Lazy<IReadOnlyList<XentGoldenCase>> s_crossEntropy = new(() => LoadCrossEntropy(Directory));
    private static readonly Lazy<IReadOnlyList<LinearGoldenCase>> s_linear = new(() => LoadLinear(Directory));
    private static readonly Lazy<IReadOnlyList<SgdGoldenCase>> s_sgd = new(() => LoadSgd(Directory));

    /// <summary>The folder the CSV files are read from.</summary>
    public static string Directory => s_directory.Value;

    /// <summary>Every softmax/cross-entropy case, in file order.</summary>
    public static IReadOnlyList<XentGoldenCase> CrossEntropy => s_crossEntropy.Value;

    /// <summary>Every linear-layer case, in file order.</summary>
    public static IReadOnlyList<LinearGoldenCase> Linear => s_linear.Value;

    /// <summary>Every SGD case, in file order.</summary>
    public static IReadOnlyList<SgdGoldenCase> Sgd => s_sgd.Value;

    /// <summary>Case names, for [TestCaseSource].</summary>
    public static IEnumerable<string> CrossEntropyNames() => CrossEntropy.Select(c => c.Name);

    /// <summary>Case names, for [TestCaseSource].</summary>
    public static IEnumerable<string> LinearNames() => Linear.Select(c => c.Name);

    /// <summary>The cross-entropy case called <paramref name="name"/>.</summary>
    public static XentGoldenCase CrossEntropyCase(string name) =>
        CrossEntropy.FirstOrDefault(c => c.Name == name) ?? throw new KeyNotFoundException($"no golden cross-entropy case '{name}'");

    /// <summary>The linear case called <paramref name="name"/>.</summary>
    public static LinearGoldenCase LinearCase(string name) =>
        Linear.FirstOrDefault(c => c.Name == name) ?? throw new KeyNotFoundException($"no golden linear case '{name}'");

    private static string Locate()
    {
        var tried = new List<string>();
        string output = Path.Combine(AppContext.BaseDirectory, "golden");
        tried.Add(output);
        if (File.Exists(Path.Combine(output, "xent_cases.csv")))
            return output;
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "tests", "golden");
            if (File.Exists(Path.Combine(candidate, "make_golden.py")))
            {
                tried.Add(candidate);
                if (File.Exists(Path.Combine(candidate, "xent_cases.csv")))
                    return candidate;
            }
        }
        throw new FileNotFoundException(
            $"Golden data not found (looked in {string.Join(", ", tried)}). Generate it from the repository root with: {RegenerateCommand}");
    }

    /// <summary>Reads the cross-entropy files of <paramref name="directory"/> (tests point it at damaged copies).</summary>
    internal static List<XentGoldenCase> LoadCrossEntropy(string directory)
    {
        var logits = new Dictionary<string, List<(int Row, int Col, float Value)>>();
        foreach (var r in Read(directory, "xent_logits.csv"))
            Group(logits, r.Text("case")).Add((r.Int("row"), r.Int("col"), r.Float("logit")));

        var rows = new Dictionary<string, List<XentGoldenRow>>();
        foreach (var r in Read(directory, "xent_rows.csv"))
            Group(rows, r.Text("case")).Add(new XentGoldenRow(r.Int("row"), r.Int("label"), r.Float("max"), r.Int("argmax"),
                r.Double("lse"), r.Double("loss"), r.Double("naive_loss")));

        var values = new Dictionary<string, List<XentGoldenValue>>();
        foreach (var r in Read(directory, "xent_values.csv"))
            Group(values, r.Text("case")).Add(new XentGoldenValue(r.Int("row"), r.Int("col"),
                r.Double("softmax"), r.Double("log_softmax"), r.Double("grad")));

        var correct = new Dictionary<string, int>();
        foreach (var r in Read(directory, "accuracy.csv"))
            correct[r.Text("case")] = r.Int("correct");

        var cases = new List<XentGoldenCase>();
        foreach (var r in Read(directory, "xent_cases.csv"))
        {
            string name = r.Text("case");
            int n = r.Int("n"), c = r.Int("c");
            string source = r.Text("logits_source");
            float[] data = source switch
            {
                "inline" => new float[(long)n * c],
                "splitmix64" => RandomData.GoldenUniform(ulong.Parse(r.Text("logits_seed"), CultureInfo.InvariantCulture), (long)n * c, r.Double("logits_scale")),
                _ => throw r.Malformed($"unknown logits_source '{source}'"),
            };
            var entries = logits.GetValueOrDefault(name) ?? [];
            if (source == "inline" && entries.Count != data.Length)
                throw r.Malformed($"case {name} is inline but xent_logits.csv lists {entries.Count} of its {data.Length} logits");
            foreach (var (row, col, value) in entries)
            {
                if ((uint)row >= (uint)n || (uint)col >= (uint)c)
                    throw r.Malformed($"xent_logits.csv entry ({row}, {col}) is outside case {name}'s {n}×{c}");
                data[(long)row * c + col] = value;
            }
            var caseRows = rows.GetValueOrDefault(name) ?? [];
            if (caseRows.Count != n || caseRows.Select((x, i) => x.Row != i).Any(bad => bad))
                throw r.Malformed($"xent_rows.csv must list rows 0..{n - 1} of case {name} in order");
            cases.Add(new XentGoldenCase(name, n, c, ParseReduction(r), r.Int("ignore_index"), r.Double("label_smoothing"),
                data, caseRows.Select(x => x.Label).ToArray(), r.Int("count"), r.Double("loss"), r.Double("naive_loss"),
                correct.TryGetValue(name, out int right) ? right : throw r.Malformed($"accuracy.csv has no line for case {name}"),
                r.Text("description"), caseRows, values.GetValueOrDefault(name) ?? []));
        }
        var known = cases.Select(c => c.Name).ToHashSet();
        (string File, IEnumerable<string> Names)[] sources =
            [("xent_logits.csv", logits.Keys), ("xent_rows.csv", rows.Keys), ("xent_values.csv", values.Keys), ("accuracy.csv", correct.Keys)];
        foreach (var (file, names) in sources)
        {
            var unknown = names.Where(name => !known.Contains(name)).ToList();
            if (unknown.Count > 0)
                throw Malformed(Path.Combine(directory, file), $"cases {string.Join(", ", unknown)} are not in xent_cases.csv");
        }
        return cases;
    }

    /// <summary>Reads the linear files of <paramref name="directory"/>.</summary>
    internal static List<LinearGoldenCase> LoadLinear(string directory)
    {
        var cases = new List<LinearGoldenCase>();
        foreach (var t in MatrixCaseTensors.Read(directory, "linear_cases.csv", "linear_values.csv"))
        {
            var (pixels, x) = t.Input();
            cases.Add(new LinearGoldenCase(t.Name, t.N, t.K, t.C, pixels, x, t.Floats("W", t.K, t.C), t.Floats("b", 1, t.C),
                t.Floats("dY", t.N, t.C), t.Doubles("Y", t.N, t.C), t.Doubles("dX", t.N, t.K), t.Doubles("dW", t.K, t.C), t.Doubles("db", 1, t.C)));
        }
        return cases;
    }

    /// <summary>One case of a matrix case file (name, n, k, c, input f32|u8) and its tensors in the values file
    /// (case, tensor, row, col, value), each checked to be dense and inside its shape.</summary>
    private sealed class MatrixCaseTensors
    {
        private readonly CsvRecord _record;
        private readonly string _valuesFile;
        private readonly Dictionary<string, List<CsvRecord>> _tensors;

        private MatrixCaseTensors(CsvRecord record, string valuesFile, Dictionary<string, List<CsvRecord>> tensors)
        {
            _record = record;
            _valuesFile = valuesFile;
            _tensors = tensors;
            Name = record.Text("case");
            N = record.Int("n");
            K = record.Int("k");
            C = record.Int("c");
            InputKind = record.Text("input");
            if (InputKind is not ("f32" or "u8"))
                throw record.Malformed($"unknown input kind '{InputKind}'");
        }

        public string Name { get; }
        public int N { get; }
        public int K { get; }
        public int C { get; }
        public string InputKind { get; }

        /// <summary>Every case of <paramref name="casesFile"/>, with the tensors of <paramref name="valuesFile"/>.</summary>
        public static List<MatrixCaseTensors> Read(string directory, string casesFile, string valuesFile)
        {
            var tensors = new Dictionary<string, List<CsvRecord>>();
            foreach (var r in GoldenCases.Read(directory, valuesFile))
                Group(tensors, r.Text("case") + "." + r.Text("tensor")).Add(r);
            return GoldenCases.Read(directory, casesFile).Select(r => new MatrixCaseTensors(r, valuesFile, tensors)).ToList();
        }

        public T[] Dense<T>(string tensor, int rowCount, int colCount, Func<CsvRecord, T> parse)
        {
            var entries = _tensors.GetValueOrDefault($"{Name}.{tensor}")
                ?? throw _record.Malformed($"{_valuesFile} has no tensor {tensor} for case {Name}");
            if (entries.Count != rowCount * colCount)
                throw _record.Malformed($"{_valuesFile} lists {entries.Count} entries of {Name}.{tensor}, expected {rowCount}×{colCount}");
            var result = new T[rowCount * colCount];
            foreach (var e in entries)
            {
                int row = e.Int("row"), col = e.Int("col");
                if ((uint)row >= (uint)rowCount || (uint)col >= (uint)colCount)
                    throw e.Malformed($"{Name}.{tensor}[{row}, {col}] is outside {rowCount}×{colCount}");
                result[row * colCount + col] = parse(e);
            }
            return result;
        }

        public float[] Floats(string tensor, int rowCount, int colCount) => Dense(tensor, rowCount, colCount, e => e.Float("value"));

        public double[] Doubles(string tensor, int rowCount, int colCount) => Dense(tensor, rowCount, colCount, e => e.Double("value"));

        /// <summary>The N×K input X: bytes and byte/255 for a u8 case, floats (and no bytes) for f32.</summary>
        public (byte[]? Pixels, float[] X) Input()
        {
            byte[]? pixels = InputKind == "u8" ? Dense("X", N, K, e => e.Byte("value")) : null;
            float[] x = pixels is null ? Floats("X", N, K) : pixels.Select(p => (float)(p / 255.0)).ToArray();
            return (pixels, x);
        }
    }

    /// <summary>Reads sgd.csv of <paramref name="directory"/>.</summary>
    internal static List<SgdGoldenCase> LoadSgd(string directory)
    {
        var cases = new List<SgdGoldenCase>();
        foreach (var group in Read(directory, "sgd.csv").GroupBy(r => r.Text("case")))
        {
            var rows = group.ToList();
            var first = rows[0];
            for (int i = 0; i < rows.Count; i++)
            {
                if (rows[i].Int("index") != i)
                    throw rows[i].Malformed($"sgd case {group.Key} must list indices 0..{rows.Count - 1} in order");
                if (rows[i].Float("lr") != first.Float("lr") || rows[i].Float("weight_decay") != first.Float("weight_decay"))
                    throw rows[i].Malformed($"sgd case {group.Key} changes lr or weight_decay within the case");
            }
            cases.Add(new SgdGoldenCase(group.Key, first.Float("lr"), first.Float("weight_decay"),
                rows.Select(r => r.Float("w")).ToArray(), rows.Select(r => r.Float("g")).ToArray(),
                rows.Select(r => r.Double("w_new")).ToArray()));
        }
        return cases;
    }

    private static RefReduction ParseReduction(CsvRecord r) => r.Text("reduction") switch
    {
        "mean" => RefReduction.Mean,
        "sum" => RefReduction.Sum,
        "none" => RefReduction.None,
        var other => throw r.Malformed($"unknown reduction '{other}'"),
    };

    private static List<T> Group<T>(Dictionary<string, List<T>> groups, string key)
    {
        if (!groups.TryGetValue(key, out var list))
            groups[key] = list = [];
        return list;
    }

    /// <summary>Reads every record of a golden file; each record keeps its file and line for error messages.</summary>
    private static List<CsvRecord> Read(string directory, string file)
    {
        string path = Path.Combine(directory, file);
        if (!File.Exists(path))
            throw new FileNotFoundException($"Golden file {path} is missing. Regenerate it from the repository root with: {RegenerateCommand}", path);
        // Strict: the script writes exactly this dialect, so anything else means a damaged file.
        var options = CsvReaderOptions.Default with
        {
            Separator = ',',
            FieldCountMismatch = CsvFieldCountHandling.Throw,
            MalformedData = CsvMalformedDataHandling.Throw,
            MissingField = CsvMissingFieldHandling.Throw,
            TrackLineNumbers = true,
        };
        var records = new List<CsvRecord>();
        try
        {
            using var csv = CsvReader.FromFile(path, options);
            var header = csv.Headers.ToArray();
            if (header.Length == 0)
                throw Malformed(path, "no header line");
            while (csv.Read())
            {
                var fields = new Dictionary<string, string>(StringComparer.Ordinal);
                for (int i = 0; i < header.Length; i++)
                    fields[header[i]] = csv.GetString(i);
                records.Add(new CsvRecord(path, csv.LineNumber, fields));
            }
        }
        catch (CsvFormatException e)
        {
            throw Malformed(path, $"line {e.LineNumber}: {e.Message}");
        }
        return records;
    }

    private static InvalidDataException Malformed(string path, string problem) =>
        new($"Golden file {path} is malformed: {problem}. Regenerate it from the repository root with: {RegenerateCommand}");

    /// <summary>One CSV record with typed, checked field access.</summary>
    private sealed class CsvRecord(string path, long line, Dictionary<string, string> fields)
    {
        public string Text(string column) =>
            fields.TryGetValue(column, out var text) ? text : throw Malformed($"no column '{column}'");

        public int Int(string column) =>
            int.TryParse(Text(column), NumberStyles.Integer, CultureInfo.InvariantCulture, out int value)
                ? value : throw Malformed($"column '{column}' is not an integer: '{Text(column)}'");

        // float.Parse rounds the shortest round-trip text back to the exact float32 the script wrote.
        public byte Byte(string column) =>
            byte.TryParse(Text(column), NumberStyles.Integer, CultureInfo.InvariantCulture, out byte value)
                ? value : throw Malformed($"column '{column}' is not a byte: '{Text(column)}'");

        public float Float(string column) =>
            float.TryParse(Text(column), NumberStyles.Float, CultureInfo.InvariantCulture, out float value)
                ? value : throw Malformed($"column '{column}' is not a number: '{Text(column)}'");

        public double Double(string column) =>
            double.TryParse(Text(column), NumberStyles.Float, CultureInfo.InvariantCulture, out double value)
                ? value : throw Malformed($"column '{column}' is not a number: '{Text(column)}'");

        public InvalidDataException Malformed(string problem) => GoldenCases.Malformed(path, $"line {line}: {problem}");
    }
}
