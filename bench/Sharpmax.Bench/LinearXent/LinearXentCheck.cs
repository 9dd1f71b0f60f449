using System.Globalization;

namespace Sharpmax.Bench.LinearXent;

/// <summary>
/// The checks run before anything is timed. At the quick shape each path against a float64 reference with an
/// element-wise bound derived below; at every shape the two paths against each other (at the full shape that is the
/// only check: its float64 reference would take 1.4·10¹¹ products).
/// </summary>
internal static class LinearXentCheck
{
    private const double U = 1.0 / (1 << 24);   // unit roundoff of float32

    // Kernel arithmetic per value beyond the products, in units of U: exp/log approximations of a few ulps, and the
    // rounding of x − lse, which is U·(|x| + |lse|) in absolute terms (the 1 + |x| + |lse| factor below).
    private const double ArithmeticUlps = 16;

    // Between the paths (all shapes): the loss within 1e-5 relative, each gradient's largest difference within 1e-4
    // of its largest magnitude. Rounding moves a logit by about √K·U·Σ|h·w| (≈ 2e-5 at K = 1024 here, typically far
    // less), a loss by about as much (relative 1e-6 on a loss near ln C) and each gradient entry by that fraction of
    // itself; a wrong tile, row or class moves values by their own size.
    public const double LossRtol = 1e-5, GradientShare = 1e-4;

    /// <summary>The float64 truth and the bound each float32 path must stay within.</summary>
    public sealed record Float64Reference(double Loss, double LossBound, double[] DH, double[] DHBound,
        double[] DW, double[] DWBound, double[] DB, double[] DBBound);

    /// <summary>
    /// The float64 loss and gradients with their bounds. A logit is a K-term float32 sum plus the bias: within
    /// δ_r = (K + 2)·U·max_j(|b_j| + Σ_k |h_rk·w_kj|) of its float64 value (the classical bound for a sum in any
    /// order). That moves row r's loss by ≤ 2δ_r (lse and x_y are each 1-Lipschitz) and each p_rj by ≤ 2δ_r·p_rj,
    /// so G = (p − onehot)/N by ≤ 2δ_r·p_rj/N; on top, the kernels' own arithmetic (<see cref="ArithmeticUlps"/>).
    /// dH = G·Wᵀ, dW = Hᵀ·G and db = Σ_rows G carry G's bound through their sums, Σ bound(G)·|w| + γ·Σ|g·w| with
    /// γ = (terms + 2)·U; the mean loss the rows' mean bound plus its own sum's (N + 2)·U·mean|ℓ|.
    /// </summary>
    public static Float64Reference Compute(LinearXentProblem p)
    {
        var (n, k, c) = (p.Shape.N, p.Shape.K, p.Shape.C);
        var g = new double[(long)n * c];
        var gBound = new double[g.Length];
        var rowLoss = new double[n];
        var rowBound = new double[n];
        Parallel.For(0, n, r =>
        {
            var x = new double[c];
            var abs = new double[c];
            for (int j = 0; j < c; j++)
            {
                x[j] = p.B[j];
                abs[j] = Math.Abs(p.B[j]);
            }
            for (int kk = 0; kk < k; kk++)
            {
                double hv = p.H[(long)r * k + kk];
                var wRow = p.W.AsSpan(kk * c, c);
                for (int j = 0; j < c; j++)
                {
                    double t = hv * wRow[j];
                    x[j] += t;
                    abs[j] += Math.Abs(t);
                }
            }
            double delta = (k + 2) * U * abs.Max();
            double max = x.Max(), sum = 0;
            for (int j = 0; j < c; j++)
                sum += Math.Exp(x[j] - max);
            double lse = max + Math.Log(sum);
            int y = p.Labels[r];
            rowLoss[r] = lse - x[y];
            rowBound[r] = 2 * delta + ArithmeticUlps * U * (1 + Math.Abs(lse) + Math.Abs(x[y]));
            for (int j = 0; j < c; j++)
            {
                double pj = Math.Exp(x[j] - lse), hot = j == y ? 1 : 0;
                g[(long)r * c + j] = (pj - hot) / n;
                gBound[(long)r * c + j] = (2 * delta * pj + ArithmeticUlps * U * (1 + Math.Abs(x[j]) + Math.Abs(lse)) * (pj + hot)) / n;
            }
        });
        double loss = rowLoss.Average();
        double lossBound = rowBound.Average() + (n + 2) * U * rowLoss.Average(Math.Abs);

        var dh = new double[(long)n * k];
        var dhBound = new double[dh.Length];
        Parallel.For(0, n, r =>
        {
            var gRow = g.AsSpan(r * c, c);
            var bRow = gBound.AsSpan(r * c, c);
            for (int kk = 0; kk < k; kk++)
            {
                var wRow = p.W.AsSpan(kk * c, c);
                double s = 0, b = 0, a = 0;
                for (int j = 0; j < c; j++)
                {
                    double t = gRow[j] * wRow[j];
                    s += t;
                    b += bRow[j] * Math.Abs(wRow[j]);
                    a += Math.Abs(t);
                }
                dh[(long)r * k + kk] = s;
                dhBound[(long)r * k + kk] = b + (c + 2) * U * a + 1e-30;
            }
        });

        var dw = new double[(long)k * c];
        var dwBound = new double[dw.Length];
        Parallel.For(0, k, kk =>
        {
            var s = dw.AsSpan(kk * c, c);
            var b = dwBound.AsSpan(kk * c, c);
            var a = new double[c];
            for (int r = 0; r < n; r++)
            {
                double hv = p.H[(long)r * k + kk], habs = Math.Abs(hv);
                var gRow = g.AsSpan(r * c, c);
                var bRow = gBound.AsSpan(r * c, c);
                for (int j = 0; j < c; j++)
                {
                    double t = hv * gRow[j];
                    s[j] += t;
                    b[j] += habs * bRow[j];
                    a[j] += Math.Abs(t);
                }
            }
            for (int j = 0; j < c; j++)
                b[j] += (n + 2) * U * a[j] + 1e-30;
        });

        var db = new double[c];
        var dbBound = new double[c];
        for (int r = 0; r < n; r++)
            for (int j = 0; j < c; j++)
            {
                db[j] += g[(long)r * c + j];
                dbBound[j] += gBound[(long)r * c + j] + (n + 2) * U * Math.Abs(g[(long)r * c + j]);
            }
        for (int j = 0; j < c; j++)
            dbBound[j] += 1e-30;
        return new Float64Reference(loss, lossBound, dh, dhBound, dw, dwBound, db, dbBound);
    }

    /// <summary>Checks one path against the float64 reference (throws through <see cref="Validation"/>); returns the
    /// largest share of its bound any value used, for the summary.</summary>
    public static double AgainstFloat64(string what, Float64Reference want, LinearXentOutputs got)
    {
        double loss = Math.Abs(got.Loss - want.Loss) / want.LossBound;
        if (!(loss <= 1))
            throw Validation.Fail(string.Create(CultureInfo.InvariantCulture,
                $"{what}: mean loss {got.Loss:R}, float64 {want.Loss:R}, allowed ±{want.LossBound:G3}. Not timing a wrong kernel."));
        Validation.Close($"{what}: dH", got.DH, want.DH, rtol: 0, i => want.DHBound[i]);
        Validation.Close($"{what}: dW", got.DW, want.DW, rtol: 0, i => want.DWBound[i]);
        Validation.Close($"{what}: db", got.DB, want.DB, rtol: 0, i => want.DBBound[i]);
        return new[] { loss, Share(got.DH, want.DH, want.DHBound), Share(got.DW, want.DW, want.DWBound), Share(got.DB, want.DB, want.DBBound) }.Max();
    }

    /// <summary>The two paths against each other (throws through <see cref="Validation"/>); returns the loss's
    /// relative difference and the worst gradient difference as a share of its largest magnitude.</summary>
    public static (double Loss, double Gradient) Between(string what, LinearXentOutputs fused, LinearXentOutputs unfused)
    {
        double loss = Math.Abs(fused.Loss - unfused.Loss) / Math.Abs(unfused.Loss);
        if (!(loss <= LossRtol))
            throw Validation.Fail(string.Create(CultureInfo.InvariantCulture,
                $"{what}: mean loss {fused.Loss:R}, the unfused chain's {unfused.Loss:R}: {loss:G3} relative, allowed {LossRtol}. Not timing a wrong kernel."));
        double worst = 0;
        foreach (var (name, a, b) in new[] { ("dH", fused.DH, unfused.DH), ("dW", fused.DW, unfused.DW), ("db", fused.DB, unfused.DB) })
        {
            double scale = b.Max(MathF.Abs), diff = 0;
            int at = 0;
            for (int i = 0; i < a.Length; i++)
            {
                double d = Math.Abs(a[i] - b[i]);
                if (!(d <= diff))   // a NaN lands here and stays
                {
                    diff = double.IsNaN(d) ? double.PositiveInfinity : d;
                    at = i;
                }
            }
            if (!(diff <= GradientShare * scale))
                throw Validation.Fail(string.Create(CultureInfo.InvariantCulture,
                    $"{what}: {name}[{at}] = {a[at]:R}, the unfused chain's {b[at]:R}: difference {diff:G3}, allowed {GradientShare}·max|{name}| = {GradientShare * scale:G3}. Not timing a wrong kernel."));
            worst = Math.Max(worst, diff / scale);
        }
        return (loss, worst);
    }

    private static double Share(float[] got, double[] want, double[] bound)
    {
        double worst = 0;
        for (int i = 0; i < got.Length; i++)
            worst = Math.Max(worst, Math.Abs(got[i] - want[i]) / bound[i]);
        return worst;
    }
}
