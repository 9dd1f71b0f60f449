using System.CommandLine;
using System.CommandLine.Parsing;
using Sharpmax.Cli.Data;

namespace Sharpmax.Cli.Commands;

/// <summary>Options that several commands share, each created per command.</summary>
internal static class CommonOptions
{
    public static Option<string?> Data() => new("--data")
    {
        Description = "Directory with the Fashion-MNIST IDX files (.gz or raw). Default: search "
            + $"${FashionMnistLocator.EnvironmentVariable}, ./{FashionMnistLocator.LocalDirectory}, {FashionMnistLocator.DebianDirectory}.",
        HelpName = "DIR",
    };

    public static Option<string> Device() => new Option<string>("--device")
    {
        Description = "Where the kernels run: auto (CUDA when a driver and a GPU exist, else the CPU), cpu or cuda.",
        DefaultValueFactory = _ => "auto",
    }.AcceptOnlyFromAmong("auto", "cpu", "cuda");

    public static Option<string> Checkpoint(bool required) => new("--checkpoint")
    {
        Description = "A model.ckpt written by 'sharpmax train'.",
        HelpName = "FILE",
        Required = required,
    };

    /// <summary>Returns <paramref name="value"/>, or throws a user error when a file option was given an empty name.</summary>
    public static string FileName(string? value, string option) => string.IsNullOrWhiteSpace(value)
        ? throw new UserErrorException($"{option} was given an empty file name")
        : value;

    public static DeviceKind ParseDevice(string value) => value switch
    {
        "cpu" => DeviceKind.Cpu,
        "cuda" => DeviceKind.Cuda,
        _ => DeviceKind.Auto,
    };

    /// <summary>
    /// Parses the value as a plain whole number (see <see cref="PlainNumber"/>) in [<paramref name="min"/>,
    /// <paramref name="max"/>]; otherwise a usage error naming the option, what it takes and the text given.
    /// </summary>
    public static Option<int> WholeNumber(this Option<int> option, int min, int max, string requirement)
    {
        option.CustomParser = result => Parse<int>(option, result, WholeKind, PlainNumber.IsWhole,
            text => PlainNumber.TryParseInt(text, out int v) && v >= min && v <= max ? v : null, requirement) ?? default;
        return option;
    }

    /// <inheritdoc cref="WholeNumber(Option{int}, int, int, string)"/>
    public static Option<int?> WholeNumber(this Option<int?> option, int min, int max, string requirement)
    {
        option.CustomParser = result => Parse<int>(option, result, WholeKind, PlainNumber.IsWhole,
            text => PlainNumber.TryParseInt(text, out int v) && v >= min && v <= max ? v : null, requirement);
        return option;
    }

    /// <summary>
    /// Parses every value of a repeatable option (<c>--hidden 256 --hidden 128</c>) as a plain whole number in
    /// [<paramref name="min"/>, <paramref name="max"/>], at most <paramref name="maxCount"/> of them; otherwise a
    /// usage error naming the option, what it takes and the text given.
    /// </summary>
    public static Option<int[]> WholeNumbers(this Option<int[]> option, int min, int max, string requirement, int maxCount)
    {
        option.CustomParser = result =>
        {
            if (result.Tokens.Count > maxCount)
            {
                result.AddError(FormattableString.Invariant($"{option.Name} may be given at most {maxCount} times, not {result.Tokens.Count}."));
                return [];
            }
            var values = new int[result.Tokens.Count];
            for (int i = 0; i < values.Length; i++)
            {
                string text = result.Tokens[i].Value;
                if (!PlainNumber.IsWhole(text))
                {
                    result.AddError($"{option.Name} must be {WholeKind}, not '{Printable(text)}'.");
                    return [];
                }
                if (!PlainNumber.TryParseInt(text, out values[i]) || values[i] < min || values[i] > max)
                {
                    result.AddError($"{option.Name} must be {requirement}, not '{Printable(text)}'.");
                    return [];
                }
            }
            return values;
        };
        return option;
    }

    /// <summary>Parses the value as a plain whole number from 0 to <see cref="ulong.MaxValue"/>.</summary>
    public static Option<ulong> WholeNumber(this Option<ulong> option)
    {
        option.CustomParser = result => Parse<ulong>(option, result, WholeKind, PlainNumber.IsWhole,
            text => PlainNumber.TryParseUInt64(text, out ulong v) ? v : null, $"between 0 and {ulong.MaxValue}") ?? default;
        return option;
    }

    /// <summary>
    /// Parses the value as a plain finite real number (see <see cref="PlainNumber"/>) for which
    /// <paramref name="isValid"/> holds; otherwise a usage error naming the option and the text given.
    /// </summary>
    public static Option<float> RealNumber(this Option<float> option, Func<float, bool> isValid, string requirement)
    {
        option.CustomParser = result => Parse<float>(option, result, RealKind, PlainNumber.IsReal,
            text => PlainNumber.TryParseFloat(text, out float v) && isValid(v) ? v : null, requirement) ?? default;
        return option;
    }

    private const string WholeKind = "a whole number (digits only)";
    private const string RealKind = "a plain number such as 0.05 (digits, '.' for the decimal point, an optional exponent; no ',' or spaces)";

    private static T? Parse<T>(Option option, ArgumentResult result, string kind, Func<string, bool> wellFormed,
        Func<string, T?> parse, string requirement) where T : struct
    {
        if (result.Tokens.Count != 1)
        {
            return null; // System.CommandLine reports a missing or repeated value itself
        }
        string text = result.Tokens[0].Value;
        if (!wellFormed(text))
        {
            result.AddError($"{option.Name} must be {kind}, not '{Printable(text)}'.");
            return null;
        }
        T? value = parse(text);
        if (value is null)
        {
            result.AddError($"{option.Name} must be {requirement}, not '{Printable(text)}'.");
        }
        return value;
    }

    /// <summary>The text with control characters escaped, so that an error stays one line.</summary>
    private static string Printable(string text) => string.Concat(text.Select(c => c switch
    {
        '\n' => "\\n",
        '\r' => "\\r",
        '\t' => "\\t",
        _ when char.IsControl(c) => $"\\u{(int)c:X4}",
        _ => c.ToString(),
    }));

    /// <summary>Adds a validator that rejects values for which <paramref name="isValid"/> is false.</summary>
    public static Option<T> Require<T>(this Option<T> option, Func<T, bool> isValid, string requirement)
    {
        option.Validators.Add(result =>
        {
            T value;
            try
            {
                value = result.GetValueOrDefault<T>();
            }
            catch (InvalidOperationException)
            {
                return; // not a T at all: the parser reports that itself
            }
            if (!isValid(value))
            {
                result.AddError($"{option.Name} {requirement}.");
            }
        });
        return option;
    }
}
