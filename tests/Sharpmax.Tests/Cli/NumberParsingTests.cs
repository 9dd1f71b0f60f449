using System.Globalization;
using NUnit.Framework;
using Sharpmax.Cli;

namespace Sharpmax.Tests.Cli;

/// <summary>
/// Every number on the command line is parsed invariantly and must be a plain number: the same under a German
/// locale (',' decimal separator, '.' group separator) as under an English one.
/// </summary>
[TestFixture("de-DE")]
[TestFixture("en-US")]
[NonParallelizable]
public class NumberParsingTests(string culture)
{
    private CultureInfo _saved = CultureInfo.InvariantCulture;

    [SetUp]
    public void SetCulture()
    {
        _saved = CultureInfo.CurrentCulture;
        CultureInfo.CurrentCulture = CultureInfo.GetCultureInfo(culture);
    }

    [TearDown]
    public void RestoreCulture() => CultureInfo.CurrentCulture = _saved;

    [Test]
    public void The_recipe_line_shows_the_numbers_as_given()
    {
        using var dir = new TempDirectory();
        IdxFixture.WriteDataSet(dir.File("data"), train: 20, test: 10);
        var (code, output, error) = CliRunner.Run("train", "--data", dir.File("data"), "--out", dir.File("out"), "--device", "cpu",
            "--epochs", "1", "--batch-size", "8", "--lr", "0.1", "--weight-decay", "0.0001", "--label-smoothing", "0.25", "--seed", "18446744073709551615");
        Assert.That(code, Is.Zero, error);
        Assert.That(output, Does.Contain("recipe: 20 training images, 1 epochs, batch 8, lr 0.1, weight decay 0.0001, label smoothing 0.25, fused cross-entropy, seed 18446744073709551615"));
    }

    [TestCase("--lr", "0,05", "--lr must be a plain number")]
    [TestCase("--lr", "1,5", "--lr must be a plain number")]
    [TestCase("--lr", "1.000,5", "--lr must be a plain number")]
    [TestCase("--lr", " 0.1", "--lr must be a plain number")]
    [TestCase("--lr", "0.1\n", "--lr must be a plain number")]
    [TestCase("--epochs", "2\r\n", "--epochs must be a whole number (digits only), not '2\\r\\n'.")]
    [TestCase("--lr", "NaN", "--lr must be a plain number")]
    [TestCase("--lr", "Infinity", "--lr must be a plain number")]
    [TestCase("--lr", "∞", "--lr must be a plain number")]
    [TestCase("--lr", "1e39", "--lr must be a positive number, not '1e39'.")]
    [TestCase("--lr", "-0.1", "--lr must be a positive number, not '-0.1'.")]
    [TestCase("--lr", "0", "--lr must be a positive number, not '0'.")]
    [TestCase("--weight-decay", "0,0001", "--weight-decay must be a plain number")]
    [TestCase("--weight-decay", "-1", "--weight-decay must be zero or positive, not '-1'.")]
    [TestCase("--label-smoothing", "0,1", "--label-smoothing must be a plain number")]
    [TestCase("--label-smoothing", "1", "--label-smoothing must be in [0, 1), not '1'.")]
    [TestCase("--epochs", "1,000", "--epochs must be a whole number (digits only), not '1,000'.")]
    [TestCase("--epochs", "1.000", "--epochs must be a whole number (digits only), not '1.000'.")]
    [TestCase("--epochs", "1e3", "--epochs must be a whole number (digits only), not '1e3'.")]
    [TestCase("--epochs", "ten", "--epochs must be a whole number (digits only), not 'ten'.")]
    [TestCase("--epochs", "0", "--epochs must be between 1 and 2147483647, not '0'.")]
    [TestCase("--epochs", "99999999999", "--epochs must be between 1 and 2147483647, not '99999999999'.")]
    [TestCase("--batch-size", "1.024", "--batch-size must be a whole number (digits only), not '1.024'.")]
    [TestCase("--batch-size", "0", "--batch-size must be between 1 and 60000, not '0'.")]
    [TestCase("--batch-size", "60001", "--batch-size must be between 1 and 60000, not '60001'.")]
    [TestCase("--seed", "-1", "--seed must be between 0 and 18446744073709551615, not '-1'.")]
    [TestCase("--seed", "1,2", "--seed must be a whole number (digits only), not '1,2'.")]
    [TestCase("--seed", "18446744073709551616", "--seed must be between 0 and 18446744073709551615, not '18446744073709551616'.")]
    public void Train_rejects_a_number_that_is_not_plain_or_out_of_range(string flag, string value, string expected)
    {
        var (code, output, error) = CliRunner.Run("train", flag, value);
        Assert.That(code, Is.EqualTo(ExitCodes.Usage));
        Assert.That(error, Does.StartWith("sharpmax: error: " + expected));
        Assert.That(error.Split('\n', StringSplitOptions.RemoveEmptyEntries), Has.Length.EqualTo(2), "the error and the pointer to --help");
        Assert.That(output, Is.Empty);
    }

    [TestCase("99999999999", "--index must be an index into the test set (0..9999 for Fashion-MNIST), not '99999999999'.")]
    [TestCase("-1", "--index must be an index into the test set (0..9999 for Fashion-MNIST), not '-1'.")]
    [TestCase("1,5", "--index must be a whole number (digits only), not '1,5'.")]
    public void Predict_rejects_an_index_that_is_not_plain_or_out_of_range(string value, string expected)
    {
        var (code, _, error) = CliRunner.Run("predict", "--checkpoint", "m.ckpt", "--index", value);
        Assert.That(code, Is.EqualTo(ExitCodes.Usage));
        Assert.That(error, Does.StartWith("sharpmax: error: " + expected));
        Assert.That(error, Does.Not.Contain("System."));
    }
}
