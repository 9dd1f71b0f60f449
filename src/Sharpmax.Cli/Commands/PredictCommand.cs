using System.CommandLine;
using Sharpmax.Cli.Data;
using Sharpmax.Cli.Output;
using Sharpmax.Cli.Training;
using static System.FormattableString;

namespace Sharpmax.Cli.Commands;

/// <summary><c>sharpmax predict</c>: class probabilities for one test image or one image file (computed on the host).</summary>
internal static class PredictCommand
{
    public static Command Create(CliConsole console)
    {
        var checkpoint = CommonOptions.Checkpoint(required: true);
        var index = new Option<int?>("--index") { Description = "Index of a Fashion-MNIST test image (0..9999).", HelpName = "I" }
            .WholeNumber(0, int.MaxValue, "an index into the test set (0..9999 for Fashion-MNIST)");
        var image = new Option<string?>("--image") { Description = "A 28x28 grayscale PGM or PNG file (light object on black, as in Fashion-MNIST).", HelpName = "FILE" };
        var data = CommonOptions.Data();
        var command = new Command("predict", "Print the class probabilities the model gives one image: test image --index I, or --image FILE.")
        {
            checkpoint, index, image, data,
        };
        command.Validators.Add(result =>
        {
            bool hasIndex = result.GetResult(index) is { Implicit: false };
            bool hasImage = result.GetResult(image) is { Implicit: false };
            if (hasIndex == hasImage)
            {
                result.AddError("Give exactly one of --index I and --image FILE.");
            }
        });
        command.SetAction(parse => CliApp.Guard(console, () =>
        {
            string path = CommonOptions.FileName(parse.GetValue(checkpoint), "--checkpoint");
            var model = Checkpoint.Load(path);
            HostModel.CheckFashionMnistShape(model, path);
            byte[] pixels;
            int? label = null;
            if (parse.GetValue(index) is int i)
            {
                var files = new FashionMnistLocator().Locate(parse.GetValue(data));
                console.Out.WriteLine($"data: {Path.GetDirectoryName(Path.GetFullPath(files.TestImages))}");
                var test = FashionMnist.LoadTest(files);
                if (i < 0 || i >= test.Count)
                {
                    throw new UserErrorException($"--index {i} is outside the test set (0..{test.Count - 1})");
                }
                pixels = test.Image(i).ToArray();
                label = test.Labels[i];
                console.Out.WriteLine($"test image #{i}, true class: {FashionMnistClasses.Names[test.Labels[i]]}");
            }
            else
            {
                string file = CommonOptions.FileName(parse.GetValue(image), "--image");
                pixels = GrayImageFile.Read(file);
                console.Out.WriteLine($"image {file}");
            }
            Print(console.Out, HostModel.Probabilities(model, pixels), label);
            return ExitCodes.Success;
        }));
        return command;
    }

    private static void Print(TextWriter output, double[] probabilities, int? label)
    {
        int predicted = Array.IndexOf(probabilities, probabilities.Max());
        output.WriteLine($"{"class",-12} probability");
        for (int c = 0; c < probabilities.Length; c++)
        {
            string bar = new('#', (int)Math.Round(probabilities[c] * 40));
            string mark = c == predicted ? (label is null || label == c ? "  <- predicted" : "  <- predicted (wrong)") : c == label ? "  <- true" : "";
            output.WriteLine(Invariant($"{FashionMnistClasses.Names[c],-12} {probabilities[c],11:F6}  {bar}{mark}"));
        }
    }
}
