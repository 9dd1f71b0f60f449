using System.CommandLine;
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

    public static DeviceKind ParseDevice(string value) => value switch
    {
        "cpu" => DeviceKind.Cpu,
        "cuda" => DeviceKind.Cuda,
        _ => DeviceKind.Auto,
    };

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
