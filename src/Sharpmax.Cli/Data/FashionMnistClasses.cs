namespace Sharpmax.Cli.Data;

/// <summary>The ten Fashion-MNIST classes, indexed by label.</summary>
public static class FashionMnistClasses
{
    public static IReadOnlyList<string> Names { get; } =
        ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle boot"];
}
