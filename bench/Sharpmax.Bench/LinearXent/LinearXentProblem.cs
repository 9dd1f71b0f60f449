namespace Sharpmax.Bench.LinearXent;

/// <summary>
/// Seeded host inputs of one shape: H uniform in [−1, 1), W uniform in [−s, s) with s = 6/√K so that the logits
/// H·W + b have a standard deviation of about 2 at every K (a spread-out softmax, neither one-hot nor flat), b
/// uniform in [−1, 1), labels uniform in [0, C). W is K×C (<see cref="Sharpmax.Ops.WeightLayout.InputsByClasses"/>,
/// as <see cref="Sharpmax.Ops.Linear"/> stores it).
/// </summary>
internal sealed record LinearXentProblem(LinearXentShape Shape, float[] H, float[] W, float[] B, int[] Labels)
{
    public static LinearXentProblem Make(LinearXentShape shape) => new(shape,
        Reference.Uniform(seed: 21, (long)shape.N * shape.K, scale: 1f),
        Reference.Uniform(seed: 22, (long)shape.K * shape.C, scale: 6f / MathF.Sqrt(shape.K)),
        Reference.Uniform(seed: 23, shape.C, scale: 1f),
        Reference.Labels(seed: 24, shape.N, shape.C));
}

/// <summary>One path's results, read back: the mean loss, dH (N×K), dW (K×C), db (C).</summary>
internal sealed record LinearXentOutputs(float Loss, float[] DH, float[] DW, float[] DB)
{
    /// <summary>The same bits in every value (the determinism check; NaNs compare by their bits too).</summary>
    public bool BitwiseEquals(LinearXentOutputs other) =>
        BitConverter.SingleToInt32Bits(Loss) == BitConverter.SingleToInt32Bits(other.Loss)
        && Bits(DH).SequenceEqual(Bits(other.DH)) && Bits(DW).SequenceEqual(Bits(other.DW)) && Bits(DB).SequenceEqual(Bits(other.DB));

    private static ReadOnlySpan<int> Bits(float[] values) => System.Runtime.InteropServices.MemoryMarshal.Cast<float, int>(values);
}
