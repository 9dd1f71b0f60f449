// Finite-difference checks of the backward kernels against the forward kernels, on every device: for a loss
// L = Σ G ⊙ f(inputs) with a fixed random G, the central difference (L(v + h) − L(v − h)) / 2h of each input
// entry v must match the gradient the backward op computes. This ties each backward to its forward without any
// reference formula: a wrong transpose, a mask on the wrong tensor or a missing bias term is an O(1) error.
//
// Tolerance. The forwards are linear (or piecewise linear: ReLU) in each entry, so the difference quotient is
// exact up to float32 rounding of the outputs: |ΔL| ≤ Σ|G|·e_Y with e_Y = 4·√K·u·max Σ|x·w| + 4u·max|Y| (the
// rounding model of LinearTests), giving atol = 2·Σ|G|·e_Y / 2h, plus the backward's own rounding (rtol 1e-5,
// far above 4·√P·u at these sizes). Entries whose perturbation moves any ReLU input across 0 (a kink) are
// skipped: the function is not linear there. h is a power of two, so v ± h rounds at most one ulp of v.
using NUnit.Framework;
using Sharpmax.Ops;
using Sharpmax.Tests.Reference;

namespace Sharpmax.Tests.Ops;

[TestFixture(DeviceKind.Cpu)]
[TestFixture(DeviceKind.Cuda)]
public sealed class GradientCheckTests(DeviceKind kind) : DeviceTestBase(kind)
{
    private const int N = 5, K = 9, C = 4;
    private const float H = 0.125f;
    private static readonly double s_u = Math.ScaleB(1.0, -24);

    [Test]
    public void Linear_backward_matches_finite_differences_of_the_forward()
    {
        var rng = new RandomData(41);
        var x = rng.Matrix(N, K);
        var w = rng.Matrix(K, C);
        var b = rng.Matrix(1, C);
        var g = rng.Matrix(N, C);
        var linear = new Linear(Device);
        using var xb = Device.Upload<float>(x);
        using var wb = Device.Upload<float>(w);
        using var bb = Device.Upload<float>(b);
        using var gb = Device.Upload<float>(g);
        using var yb = Device.Allocate<float>(N * C);
        using var dxb = Device.Allocate<float>(N * K);
        using var dwb = Device.Allocate<float>(K * C);
        using var dbb = Device.Allocate<float>(C);
        linear.BackwardInput(new DeviceMatrix(gb, N, C), new DeviceMatrix(wb, K, C), new DeviceMatrix(dxb, N, K));
        linear.BackwardWeight(new DeviceMatrix(xb, N, K), new DeviceMatrix(gb, N, C), new DeviceMatrix(dwb, K, C));
        linear.BackwardBias(new DeviceMatrix(gb, N, C), dbb);

        float[] Forward()
        {
            linear.Forward(new DeviceMatrix(xb, N, K), new DeviceMatrix(wb, K, C), bb, new DeviceMatrix(yb, N, C));
            return yb.ToArray();
        }
        double atol = Atol(g, x, w, Forward());
        CheckEntries("dX", x, xb, dxb.ToArray(), g, Forward, atol, kinkFree: null);
        CheckEntries("dW", w, wb, dwb.ToArray(), g, Forward, atol, kinkFree: null);
        CheckEntries("db", b, bb, dbb.ToArray(), g, Forward, atol, kinkFree: null);
    }

    [Test]
    public void Relu_backward_matches_finite_differences_of_the_forward()
    {
        var rng = new RandomData(42);
        var z = rng.Matrix(N, K);
        var g = rng.Matrix(N, K);
        using var zb = Device.Upload<float>(z);
        using var gb = Device.Upload<float>(g);
        using var ab = Device.Allocate<float>(N * K);
        using var dzb = Device.Allocate<float>(N * K);
        var zm = new DeviceMatrix(zb, N, K);
        var am = new DeviceMatrix(ab, N, K);
        Relu.Forward(zm, am);
        Relu.Backward(new DeviceMatrix(gb, N, K), am, new DeviceMatrix(dzb, N, K));

        float[] Forward()
        {
            Relu.Forward(zm, am);
            return ab.ToArray();
        }
        var mask = SameMask(Forward());
        int checkedCount = CheckEntries("relu dZ", z, zb, dzb.ToArray(), g, Forward, atol: 0, kinkFree: () => mask(ab.ToArray()));
        Assert.That(checkedCount, Is.GreaterThan(N * K / 2), "most entries are away from the kink");
    }

    // L(Z) = Σ G ⊙ (relu(Z)·W): dZ is linear_backward_input_relu_f32's (dY = G, A = relu(Z)).
    [Test]
    public void Masked_backward_input_matches_finite_differences_through_relu_then_linear()
    {
        var rng = new RandomData(43);
        var z = rng.Matrix(N, K);
        var w = rng.Matrix(K, C);
        var g = rng.Matrix(N, C);
        var linear = new Linear(Device);
        using var zb = Device.Upload<float>(z);
        using var wb = Device.Upload<float>(w);
        using var gb = Device.Upload<float>(g);
        using var ab = Device.Allocate<float>(N * K);
        using var yb = Device.Allocate<float>(N * C);
        using var dzb = Device.Allocate<float>(N * K);
        var am = new DeviceMatrix(ab, N, K);
        Relu.Forward(new DeviceMatrix(zb, N, K), am);
        linear.BackwardInputRelu(new DeviceMatrix(gb, N, C), new DeviceMatrix(wb, K, C), am, new DeviceMatrix(dzb, N, K));

        float[] Forward()
        {
            Relu.Forward(new DeviceMatrix(zb, N, K), am);
            linear.Forward(am, new DeviceMatrix(wb, K, C), null, new DeviceMatrix(yb, N, C));
            return yb.ToArray();
        }
        var y = Forward();
        var activation = ab.ToArray();
        double atol = Atol(g, activation, w, y);
        var mask = SameMask(activation);
        int count = CheckEntries("masked dX", z, zb, dzb.ToArray(), g, Forward, atol, kinkFree: () => mask(ab.ToArray()));
        Assert.That(count, Is.GreaterThan(N * K / 2));
    }

    // L(W) = Σ G ⊙ relu(X·W + b): dW = Xᵀ·(G ⊙ [Y > 0]) through the fused forward's saved output Y.
    [Test]
    public void Fused_forward_weight_gradient_matches_finite_differences()
    {
        var rng = new RandomData(44);
        var x = rng.Matrix(N, K);
        var w = rng.Matrix(K, C);
        var b = rng.Matrix(1, C);
        var g = rng.Matrix(N, C);
        var linear = new Linear(Device);
        using var xb = Device.Upload<float>(x);
        using var wb = Device.Upload<float>(w);
        using var bb = Device.Upload<float>(b);
        using var gb = Device.Upload<float>(g);
        using var yb = Device.Allocate<float>(N * C);
        using var dzb = Device.Allocate<float>(N * C);
        using var dwb = Device.Allocate<float>(K * C);
        using var dbb = Device.Allocate<float>(C);
        var ym = new DeviceMatrix(yb, N, C);
        linear.ForwardRelu(new DeviceMatrix(xb, N, K), new DeviceMatrix(wb, K, C), bb, ym);
        Relu.Backward(new DeviceMatrix(gb, N, C), ym, new DeviceMatrix(dzb, N, C));
        linear.BackwardWeight(new DeviceMatrix(xb, N, K), new DeviceMatrix(dzb, N, C), new DeviceMatrix(dwb, K, C));
        linear.BackwardBias(new DeviceMatrix(dzb, N, C), dbb);

        float[] Forward()
        {
            linear.ForwardRelu(new DeviceMatrix(xb, N, K), new DeviceMatrix(wb, K, C), bb, ym);
            return yb.ToArray();
        }
        var y = Forward();
        double atol = Atol(g, x, w, y);
        var mask = SameMask(y);
        int count = CheckEntries("fused dW", w, wb, dwb.ToArray(), g, Forward, atol, kinkFree: () => mask(yb.ToArray()));
        count += CheckEntries("fused db", b, bb, dbb.ToArray(), g, Forward, atol, kinkFree: () => mask(yb.ToArray()));
        Assert.That(count, Is.GreaterThan((K + 1) * C / 3), "enough entries are away from a kink");
    }

    // Perturbs each entry of `values` (uploaded to `buffer`) by ±H, runs `forward`, and compares the difference
    // quotient of L = Σ G ⊙ output with `gradient`. `kinkFree` (run after each forward) says whether the
    // perturbed point kept every ReLU on its side; entries where it did not are skipped. Returns the entries checked.
    private static int CheckEntries(string what, float[] values, DeviceBuffer<float> buffer, float[] gradient, float[] g,
        Func<float[]> forward, double atol, Func<bool>? kinkFree)
    {
        int count = 0;
        for (int i = 0; i < values.Length; i++)
        {
            float original = values[i];
            bool linearHere = true;
            double Eval(float v)
            {
                values[i] = v;
                buffer.CopyFrom(values);
                double loss = Loss(g, forward());
                if (kinkFree is not null && !kinkFree())
                    linearHere = false;
                return loss;
            }
            float up = original + H, down = original - H;
            double plus = Eval(up), minus = Eval(down);
            values[i] = original;
            buffer.CopyFrom(values);
            if (!linearHere)
                continue;
            double quotient = (plus - minus) / ((double)up - down);
            AssertClose.Scalar(gradient[i], quotient, atol / H, 1e-5, $"{what}[{i}]");
            count++;
        }
        return count;
    }

    // True while the output's zero pattern (the ReLU masks) is the baseline's.
    private static Func<float[], bool> SameMask(float[] baseline) =>
        output => output.Select((v, i) => (v > 0) == (baseline[i] > 0)).All(same => same);

    private static double Loss(float[] g, float[] y)
    {
        double sum = 0;
        for (int i = 0; i < y.Length; i++)
            sum += (double)g[i] * y[i];
        return sum;
    }

    // Σ|G|·e_Y with e_Y = 4·√K·u·max Σ|x·w| + 4u·max|Y|, bounding L's float32 rounding at either point (the
    // perturbed inputs stay within H of these, so 2× covers them).
    private static double Atol(float[] g, float[] x, float[] w, float[] y)
    {
        int n = x.Length / K, k = K, c = w.Length / K;
        double maxAbsSum = 0;
        for (int i = 0; i < n; i++)
            for (int o = 0; o < c; o++)
            {
                double s = 0;
                for (int j = 0; j < k; j++)
                    s += (Math.Abs(x[i * k + j]) + H) * (Math.Abs(w[j * c + o]) + H);
                maxAbsSum = Math.Max(maxAbsSum, s);
            }
        double eY = 4 * Math.Sqrt(k) * s_u * maxAbsSum + 4 * s_u * (y.Max(Math.Abs) + H);
        return 2 * g.Sum(v => Math.Abs(v)) * eY;
    }
}
