using System.Globalization;
using Sharpmax.Ops;

namespace Sharpmax.Models;

/// <summary>
/// A multilayer perceptron: linear layers with a ReLU after each but the last, as d2l's from-scratch chapter
/// writes it (784 → 256 → 10 there). No autograd: <see cref="Forward(PixelRows)"/> keeps each hidden layer's
/// activation, <see cref="Backward(PixelRows, DeviceMatrix)"/> runs the chain rule written out layer by layer
/// from the loss's gradient with respect to the logits, and <see cref="Step"/> applies SGD. Every buffer is
/// allocated by the constructor for batches of up to <see cref="MaxBatch"/> rows, so a training step allocates
/// nothing. The kernels it runs:
/// <code>
/// forward   H_l = relu(H_{l-1}·W_l + b_l)   (linear_relu_forward_*; H_0 = X, f32 or u8 pixels)
///           logits = H_{L-1}·W_L + b_L      (linear_forward_*)
/// backward  dW_l = H_{l-1}ᵀ·dZ_l, db_l = Σ_rows dZ_l, dZ_L = the loss's gradient
///           dZ_{l-1} = (dZ_l·W_lᵀ) ⊙ [H_{l-1} &gt; 0]   (linear_backward_input_relu_f32_*; no dX for the input)
/// step      W ← W − lr·(dW + weightDecay·W), b ← b − lr·db   (sgd_update_f32)
/// </code>
/// </summary>
public sealed class Mlp : IDisposable
{
    private readonly DenseLayer[] _layers;
    private readonly Linear _linear;

    /// <summary>Allocates the layers, with zero weights and biases (see <see cref="InitializeNormal"/>).</summary>
    /// <param name="device">The device every buffer lives on.</param>
    /// <param name="sizes">Features from the input to the output, at least two: [784, 256, 10] is one hidden
    /// layer of 256.</param>
    /// <param name="maxBatch">The most rows a forward takes.</param>
    /// <param name="variant">The linear kernels to run (Fast: by device kind).</param>
    /// <exception cref="ArgumentException">Fewer than two sizes, a size below 1, or a maxBatch below 1.</exception>
    public Mlp(Device device, ReadOnlySpan<int> sizes, int maxBatch, LinearVariant variant = LinearVariant.Fast)
    {
        ArgumentNullException.ThrowIfNull(device);
        if (sizes.Length < 2)
            throw new ArgumentException($"An MLP needs at least an input and an output size; got {sizes.Length}.", nameof(sizes));
        foreach (int size in sizes)
            if (size < 1)
                throw new ArgumentException(Invariant($"Layer sizes must be ≥ 1; got [{string.Join(", ", sizes.ToArray())}]."), nameof(sizes));
        if (maxBatch < 1)
            throw new ArgumentOutOfRangeException(nameof(maxBatch), maxBatch, "The batch must hold at least one row.");
        _linear = new Linear(device, variant);
        Device = device;
        MaxBatch = maxBatch;
        _layers = new DenseLayer[sizes.Length - 1];
        try
        {
            for (int l = 0; l < _layers.Length; l++)
                _layers[l] = new DenseLayer(device, sizes[l], sizes[l + 1], maxBatch, hidden: l < _layers.Length - 1);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>The device the model runs on.</summary>
    public Device Device { get; }

    /// <summary>The most rows a forward takes.</summary>
    public int MaxBatch { get; }

    /// <summary>The layers from the input to the output.</summary>
    public IReadOnlyList<DenseLayer> Layers => _layers;

    /// <summary>K of the first layer: the features of an input row.</summary>
    public int Inputs => _layers[0].Inputs;

    /// <summary>C of the last layer: the logits of a row.</summary>
    public int Outputs => _layers[^1].Outputs;

    /// <summary>The kernels the linear layers run (Fast resolved by device kind).</summary>
    public LinearVariant Kernels => _linear.Kernels;

    /// <summary>Sets every W to draws of N(0, std²), layer by layer, row-major, and every b to 0 (d2l's
    /// initialization with std = 0.01).</summary>
    /// <param name="std">The standard deviation.</param>
    /// <param name="nextGaussian">A standard normal generator (the caller's seeded one).</param>
    public void InitializeNormal(double std, Func<double> nextGaussian)
    {
        ArgumentNullException.ThrowIfNull(nextGaussian);
        foreach (var layer in _layers)
        {
            var w = new float[(long)layer.Inputs * layer.Outputs];
            for (long i = 0; i < w.Length; i++)
                w[i] = (float)(std * nextGaussian());
            layer.Weights.Buffer.CopyFrom(w);
            layer.Bias.Clear();
        }
    }

    /// <summary>The forward pass for float inputs; keeps every hidden activation for the backward.</summary>
    /// <param name="x">X, N×K with N ≤ <see cref="MaxBatch"/>, any row stride.</param>
    /// <returns>The logits, an N×C view of the last layer's output (valid until the next forward).</returns>
    /// <exception cref="ArgumentException">X's shape does not fit the model (the message names both), or a buffer
    /// lives on another device.</exception>
    public DeviceMatrix Forward(DeviceMatrix x)
    {
        CheckInput(x.Rows, x.Cols);
        var first = _layers[0];
        if (first.Hidden)
            _linear.ForwardRelu(x, first.Weights, first.Bias, first.Output(x.Rows));
        else
            _linear.Forward(x, first.Weights, first.Bias, first.Output(x.Rows));
        return ForwardAbove(x.Rows);
    }

    /// <summary>The forward pass for u8 images gathered by index; keeps every hidden activation.</summary>
    /// <param name="x">X, N×K images with N ≤ <see cref="MaxBatch"/>.</param>
    /// <returns>The logits, an N×C view of the last layer's output (valid until the next forward).</returns>
    /// <exception cref="ArgumentException">X's shape does not fit the model, or the batch reaches past its index or
    /// image set.</exception>
    public DeviceMatrix Forward(PixelRows x)
    {
        ArgumentNullException.ThrowIfNull(x);
        CheckInput(x.Rows, x.Cols);
        var first = _layers[0];
        if (first.Hidden)
            _linear.ForwardRelu(x, first.Weights, first.Bias, first.Output(x.Rows));
        else
            _linear.Forward(x, first.Weights, first.Bias, first.Output(x.Rows));
        return ForwardAbove(x.Rows);
    }

    /// <summary>The backward pass after <see cref="Forward(DeviceMatrix)"/> of the same X: every layer's dW and db.</summary>
    /// <param name="x">The X the forward took.</param>
    /// <param name="logitsGradient">The loss's gradient with respect to the logits, N×C, dense (for a mean loss,
    /// already divided by N).</param>
    /// <exception cref="ArgumentException">A shape differs from the forward's, or dLogits is a buffer of the model.</exception>
    public void Backward(DeviceMatrix x, DeviceMatrix logitsGradient)
    {
        CheckInput(x.Rows, x.Cols);
        var dz = BackwardAbove(x.Rows, logitsGradient);
        _linear.BackwardWeight(x, dz, _layers[0].WeightGradient);
        _linear.BackwardBias(dz, _layers[0].BiasGradient);
    }

    /// <summary>The backward pass after <see cref="Forward(PixelRows)"/> of the same X: every layer's dW and db.</summary>
    /// <param name="x">The X the forward took.</param>
    /// <param name="logitsGradient">The loss's gradient with respect to the logits, N×C, dense.</param>
    /// <exception cref="ArgumentException">A shape differs from the forward's, or dLogits is a buffer of the model.</exception>
    public void Backward(PixelRows x, DeviceMatrix logitsGradient)
    {
        ArgumentNullException.ThrowIfNull(x);
        CheckInput(x.Rows, x.Cols);
        var dz = BackwardAbove(x.Rows, logitsGradient);
        _linear.BackwardWeight(x, dz, _layers[0].WeightGradient);
        _linear.BackwardBias(dz, _layers[0].BiasGradient);
    }

    /// <summary>One SGD step on every layer: W ← W − lr·(dW + weightDecay·W), b ← b − lr·db (no decay on biases,
    /// as the trainer's softmax regression).</summary>
    /// <param name="learningRate">lr.</param>
    /// <param name="weightDecay">The L2 coefficient on the weights; 0 for none.</param>
    public void Step(float learningRate, float weightDecay = 0f)
    {
        foreach (var layer in _layers)
        {
            Sgd.Step(layer.Weights.Buffer, layer.WeightGradient.Buffer, learningRate, weightDecay);
            Sgd.Step(layer.Bias, layer.BiasGradient, learningRate);
        }
    }

    /// <summary>Frees every layer's buffers.</summary>
    public void Dispose()
    {
        foreach (var layer in _layers)
            layer?.Dispose();
    }

    // Layers 1.. of the forward, from layer 0's output; returns the logits.
    private DeviceMatrix ForwardAbove(int n)
    {
        for (int l = 1; l < _layers.Length; l++)
        {
            var layer = _layers[l];
            var input = _layers[l - 1].Output(n);
            if (layer.Hidden)
                _linear.ForwardRelu(input, layer.Weights, layer.Bias, layer.Output(n));
            else
                _linear.Forward(input, layer.Weights, layer.Bias, layer.Output(n));
        }
        return _layers[^1].Output(n);
    }

    // Layers L-1..1 of the backward: their dW, db, and the dZ of the layer below; returns layer 0's dZ.
    private DeviceMatrix BackwardAbove(int n, DeviceMatrix logitsGradient)
    {
        if (logitsGradient.Rows != n || logitsGradient.Cols != Outputs)
            throw new ArgumentException(Invariant($"dLogits is {logitsGradient} but the logits are {n}×{Outputs}."), nameof(logitsGradient));
        foreach (var layer in _layers)
            if (ReferenceEquals(logitsGradient.Buffer, layer.OutputBuffer) || ReferenceEquals(logitsGradient.Buffer, layer.OutputGradientBuffer))
                throw new ArgumentException("dLogits is a buffer of the model; the loss must write its gradient to a buffer of its own.", nameof(logitsGradient));
        var dz = logitsGradient;
        for (int l = _layers.Length - 1; l > 0; l--)
        {
            var layer = _layers[l];
            var below = _layers[l - 1];
            var input = below.Output(n);
            _linear.BackwardWeight(input, dz, layer.WeightGradient);
            _linear.BackwardBias(dz, layer.BiasGradient);
            var dzBelow = new DeviceMatrix(below.OutputGradientBuffer!, n, below.Outputs);
            _linear.BackwardInputRelu(dz, layer.Weights, input, dzBelow);
            dz = dzBelow;
        }
        return dz;
    }

    private void CheckInput(int rows, int cols, string x = "x")
    {
        if (cols != Inputs)
            throw new ArgumentException(Invariant($"X is {rows}×{cols} but the model takes rows of {Inputs} features."), x);
        if (rows > MaxBatch)
            throw new ArgumentException(Invariant($"X is {rows}×{cols} but the model was built for at most {MaxBatch} rows."), x);
        if (rows < 0)
            throw new ArgumentException(Invariant($"X is {rows}×{cols}: rows must be ≥ 0."), x);
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
