namespace Sharpmax.Bench;

/// <summary>Entry point of the benchmark harness (argument handling lands next).</summary>
public static class Program
{
    public static int Main(string[] args)
    {
        _ = args;
        Console.Error.WriteLine("sharpmax-bench: not implemented yet");
        return 2;
    }
}
