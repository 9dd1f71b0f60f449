using System.Globalization;
using System.Text.RegularExpressions;

namespace Sharpmax.Cli.Commands;

/// <summary>
/// Parses the numbers the CLI reads the same way in every locale: ASCII digits, an optional leading <c>-</c>,
/// and for real numbers one <c>.</c> and an optional exponent. No group separators, spaces, <c>NaN</c> or
/// <c>Infinity</c>. (.NET's default parsing uses the current culture and accepts group separators, so
/// <c>--lr 0,05</c> became 5, and 0.1 became 1 under a German locale.)
/// </summary>
internal static partial class PlainNumber
{
    /// <summary>A whole number in <see cref="int"/>'s range.</summary>
    public static bool TryParseInt(string text, out int value)
    {
        value = 0;
        return WholeSyntax().IsMatch(text)
            && int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out value);
    }

    /// <summary>A non-negative whole number in <see cref="ulong"/>'s range.</summary>
    public static bool TryParseUInt64(string text, out ulong value)
    {
        value = 0;
        return WholeSyntax().IsMatch(text) && !text.StartsWith('-')
            && ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value);
    }

    /// <summary>A finite real number (a literal too large for float32 is rejected, not turned into infinity).</summary>
    public static bool TryParseFloat(string text, out float value)
    {
        value = 0;
        return RealSyntax().IsMatch(text)
            && float.TryParse(text, NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint | NumberStyles.AllowExponent,
                CultureInfo.InvariantCulture, out value)
            && float.IsFinite(value);
    }

    /// <summary>Whether <paramref name="text"/> is written as a plain whole number (its value may still be out of range).</summary>
    public static bool IsWhole(string text) => WholeSyntax().IsMatch(text);

    /// <summary>Whether <paramref name="text"/> is written as a plain real number (its value may still be out of range).</summary>
    public static bool IsReal(string text) => RealSyntax().IsMatch(text);

    [GeneratedRegex(@"^-?[0-9]+\z", RegexOptions.CultureInvariant)]
    private static partial Regex WholeSyntax();

    [GeneratedRegex(@"^-?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?\z", RegexOptions.CultureInvariant)]
    private static partial Regex RealSyntax();
}
