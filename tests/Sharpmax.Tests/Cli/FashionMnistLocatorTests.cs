using NUnit.Framework;
using Sharpmax.Cli.Data;

namespace Sharpmax.Tests.Cli;

public class FashionMnistLocatorTests
{
    [Test]
    public void Explicit_data_directory_is_used_and_raw_files_are_accepted()
    {
        using var dir = new TempDirectory();
        IdxFixture.WriteDataSet(dir.Path, gzip: false);
        var locator = new FashionMnistLocator(null, "/nonexistent-cwd", []);

        var files = locator.Locate(dir.Path);

        Assert.That(files.TrainImages, Is.EqualTo(Path.Combine(dir.Path, "train-images-idx3-ubyte")));
        Assert.That(files.TestLabels, Is.EqualTo(Path.Combine(dir.Path, "t10k-labels-idx1-ubyte")));
    }

    [Test]
    public void Search_order_is_environment_then_working_directory_then_system()
    {
        using var env = new TempDirectory();
        using var cwd = new TempDirectory();
        using var system = new TempDirectory();
        IdxFixture.WriteDataSet(Path.Combine(cwd.Path, "data", "fashion-mnist"));
        IdxFixture.WriteDataSet(system.Path);

        Assert.That(new FashionMnistLocator(null, cwd.Path, [system.Path]).Locate(null).TrainImages,
            Does.StartWith(Path.Combine(cwd.Path, "data", "fashion-mnist")), "./data/fashion-mnist before the system directory");
        Assert.That(new FashionMnistLocator(null, env.Path, [system.Path]).Locate(null).TrainImages,
            Does.StartWith(system.Path), "the system directory when nothing else has the files");
        IdxFixture.WriteDataSet(env.Path);
        Assert.That(new FashionMnistLocator(env.Path, cwd.Path, [system.Path]).Locate(null).TrainImages,
            Does.StartWith(env.Path), "$FASHION_MNIST_DIR first");
    }

    [Test]
    public void Not_found_lists_every_place_searched_and_how_to_get_the_data()
    {
        using var env = new TempDirectory();
        using var cwd = new TempDirectory();
        var locator = new FashionMnistLocator(null, cwd.Path, ["/no/such/system/dir"]);

        var e = Assert.Throws<DataNotFoundException>(() => locator.Locate(null))!;

        Assert.That(e.Message, Does.Contain("$FASHION_MNIST_DIR: not set"));
        Assert.That(e.Message, Does.Contain($"./data/fashion-mnist ({Path.Combine(cwd.Path, "data/fashion-mnist")}): no such directory"));
        Assert.That(e.Message, Does.Contain("/no/such/system/dir: no such directory"));
        Assert.That(e.Message, Does.Contain("apt-get install dataset-fashion-mnist"));
        Assert.That(e.Message, Does.Contain("--download"));
    }

    [Test]
    public void An_explicit_data_directory_without_the_files_is_not_second_guessed()
    {
        using var empty = new TempDirectory();
        using var system = new TempDirectory();
        IdxFixture.WriteDataSet(system.Path);
        var locator = new FashionMnistLocator(null, empty.Path, [system.Path]);

        var e = Assert.Throws<DataNotFoundException>(() => locator.Locate(empty.Path))!;

        Assert.That(e.Message, Does.StartWith($"--data {empty.Path} does not hold Fashion-MNIST"));
        Assert.That(e.Message, Does.Contain("missing train-images-idx3-ubyte[.gz]"));
    }

    [Test]
    public void An_environment_variable_naming_a_folder_without_the_data_is_an_error_not_a_fallback()
    {
        using var env = new TempDirectory();
        using var cwd = new TempDirectory();
        using var system = new TempDirectory();
        IdxFixture.WriteDataSet(system.Path);
        File.WriteAllBytes(Path.Combine(env.Path, "train-images-idx3-ubyte.gz"), [1]);
        string nowhere = Path.Combine(env.Path, "typo");

        var missing = Assert.Throws<DataNotFoundException>(() => new FashionMnistLocator(nowhere, cwd.Path, [system.Path]).Locate(null))!;
        var partial = Assert.Throws<DataNotFoundException>(() => new FashionMnistLocator(env.Path, cwd.Path, [system.Path]).Locate(null))!;

        Assert.That(missing.Message, Does.StartWith($"$FASHION_MNIST_DIR={nowhere} does not hold Fashion-MNIST:"));
        Assert.That(missing.Message, Does.Contain($"$FASHION_MNIST_DIR ({nowhere}): no such directory").And.Contain("Unset $FASHION_MNIST_DIR"));
        Assert.That(partial.Message, Does.Contain($"$FASHION_MNIST_DIR ({env.Path}): missing train-labels-idx1-ubyte[.gz], t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz]"));
        Assert.That(partial.Message, Does.Not.Contain(system.Path), "the system copy is not used in its place");
    }

    [Test]
    public void An_empty_data_option_is_an_error_not_a_search()
    {
        using var cwd = new TempDirectory();
        var e = Assert.Throws<DataNotFoundException>(() => new FashionMnistLocator(null, cwd.Path, []).Locate(""))!;
        Assert.That(e.Message, Is.EqualTo("--data was given an empty directory name"));
    }

    [Test]
    public void An_unset_environment_variable_is_mentioned()
    {
        using var cwd = new TempDirectory();
        var e = Assert.Throws<DataNotFoundException>(() => new FashionMnistLocator("", cwd.Path, []).Locate(null))!;
        Assert.That(e.Message, Does.Contain("$FASHION_MNIST_DIR: not set"));
    }
}
