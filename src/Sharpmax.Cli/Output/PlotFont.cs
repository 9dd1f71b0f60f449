using SkiaSharp;

namespace Sharpmax.Cli.Output;

/// <summary>
/// The sans-serif family the pictures use. ScottPlot's own choice (<c>Fonts.Sans</c>) falls back to the
/// first family Skia lists, which on Debian is DejaVu Serif; ask for a real sans-serif font by name first.
/// </summary>
public static class PlotFont
{
    private static readonly string[] Preferred = ["DejaVu Sans", "Liberation Sans", "Arial", "Helvetica", "Segoe UI", "Noto Sans"];

    public static string Name { get; } =
        Preferred.FirstOrDefault(SKFontManager.Default.FontFamilies.Contains) ?? ScottPlot.Fonts.Default;
}
