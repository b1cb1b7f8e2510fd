namespace Electra.Tests.Tensor;

using Tensor = Electra.Tensor;

/// <summary>
/// Checks an op against a plain double-precision reference written in the test: the float forward against the
/// reference forward, and the analytic gradient (backprop of loss = Σ output ∘ R for a fixed random R) against
/// central finite differences of the double reference.
/// </summary>
/// <remarks>
/// Why the tolerances: our ops run in float32 (unit roundoff 6e-8) and accumulate sums of tens to hundreds of
/// products of O(1) values, so their results carry absolute errors of about 1e-6..1e-5. Central differences of the
/// double reference with h = 1e-6 are exact to ~1e-9 (truncation h²·f‴ ≈ 1e-12, roundoff 1e-16·|f|/h ≈ 1e-10), so
/// the whole difference between analytic and numeric gradients is the float error. atol 1e-4 / rtol 1e-3 leave a
/// ~10× margin over it, yet a wrong formula (a missing term, a wrong scale, a mask applied in the wrong place)
/// moves gradients by O(0.01..1) and fails. Forward values are checked tighter (atol 2e-5, rtol 1e-4).
/// </remarks>
internal static class GradCheck
{
    public const double GradAtol = 1e-4, GradRtol = 1e-3;
    public const double ForwardAtol = 2e-5, ForwardRtol = 1e-4;
    private const double H = 1e-6;

    /// <summary>Uniform values in [−scale, scale) from a seeded generator.</summary>
    public static float[] Uniform(int n, int seed, float scale = 1f) => TestData.RandomFloats(n, seed, scale);

    public static double[] ToDouble(float[] x) => Array.ConvertAll(x, v => (double)v);

    /// <summary>A leaf that requires grad, owned by the innermost <see cref="TensorScope"/>.</summary>
    public static Tensor Leaf(float[] data, Shape shape)
    {
        var t = Tensor.FromArray(data, shape);
        t.RequiresGrad = true;
        return t;
    }

    /// <summary>The accumulated gradient of a leaf (zeros when backward never reached it); frees it.</summary>
    public static float[] TakeGrad(Tensor leaf)
    {
        if (leaf.Grad is null) return new float[leaf.Count];
        var g = leaf.Grad.ToFloatArray();
        leaf.Grad.Dispose();
        leaf.Grad = null;
        return g;
    }

    /// <summary>Backprops loss = Σ y ∘ r from a non-scalar output.</summary>
    public static void BackwardWeighted(Tensor y, float[] r)
    {
        using var seed = Tensor.FromArray(r, y.Shape);
        y.Backward(seed);
    }

    public static void AssertClose(ReadOnlySpan<float> actual, ReadOnlySpan<double> expected, double atol, double rtol, string what)
    {
        Assert.That(actual.Length, Is.EqualTo(expected.Length), $"{what}: length");
        double worst = 0;
        int worstAt = -1;
        for (int i = 0; i < actual.Length; i++)
        {
            double excess = Math.Abs(actual[i] - expected[i]) - (atol + rtol * Math.Abs(expected[i]));
            if (!(excess <= worst)) // NaN counts as a failure
            {
                worst = double.IsNaN(excess) ? double.PositiveInfinity : excess;
                worstAt = i;
            }
        }
        if (worstAt >= 0)
            Assert.Fail($"{what}: element {worstAt} is {actual[worstAt]:G9}, expected {expected[worstAt]:G9} (|diff| ≤ {atol:G2} + {rtol:G2}·|expected|)");
    }

    public static void AssertForward(float[] actual, double[] expected, string what) =>
        AssertClose(actual, expected, ForwardAtol, ForwardRtol, what + " forward");

    /// <summary>
    /// For each input k with an analytic gradient, compares it with ∂/∂inputs[k] of Σ reference(inputs) ∘ r by
    /// central differences. <paramref name="r"/> null means the reference returns one value (weight 1).
    /// </summary>
    public static void AssertGradients(string op, Func<double[][], double[]> reference, float[][] inputs, float[]? r,
        params (int Input, float[] Analytic, string Name)[] grads)
    {
        var x = inputs.Select(ToDouble).ToArray();
        double Loss()
        {
            var y = reference(x);
            if (r is null) return y.Sum();
            if (y.Length != r.Length) throw new InvalidOperationException($"{op}: reference gave {y.Length} values for {r.Length} weights");
            double s = 0;
            for (int i = 0; i < y.Length; i++) s += y[i] * r[i];
            return s;
        }
        foreach (var (k, analytic, name) in grads)
        {
            var numeric = new double[x[k].Length];
            for (int i = 0; i < numeric.Length; i++)
            {
                double saved = x[k][i];
                x[k][i] = saved + H;
                double plus = Loss();
                x[k][i] = saved - H;
                double minus = Loss();
                x[k][i] = saved;
                numeric[i] = (plus - minus) / (2 * H);
            }
            AssertClose(analytic, numeric, GradAtol, GradRtol, $"{op} d{name}");
        }
    }

    /// <summary>Dropout's keep decision for element <paramref name="index"/>, as IBackend documents it.</summary>
    public static bool Keeps(float p, ulong seed, ulong offset, ulong index) => Philox.Uniform(Philox.Bits(seed, offset, index)) >= p;

    /// <summary>erf in double precision (the BCL has none): Taylor series near 0, continued fraction for erfc beyond.</summary>
    public static double Erf(double x)
    {
        double a = Math.Abs(x);
        if (a < 3)
        {
            // Σ (−1)ⁿ x^(2n+1) / (n!(2n+1)); terms peak near e^(x²) < 1e4, so ≥ 12 significant digits remain.
            double term = a, sum = a, a2 = a * a;
            for (int n = 1; n < 200 && Math.Abs(term) > 1e-17 * Math.Abs(sum); n++)
            {
                term *= -a2 / n;
                sum += term / (2 * n + 1);
            }
            return Math.Sign(x) * sum * 2 / Math.Sqrt(Math.PI);
        }
        // erfc(a) = e^(−a²)/√π · 1/(a + (1/2)/(a + 1/(a + (3/2)/(a + …)))), evaluated from the tail.
        double f = a;
        for (int n = 60; n >= 1; n--) f = a + n / 2.0 / f;
        double erfc = Math.Exp(-a * a) / Math.Sqrt(Math.PI) / f;
        return Math.Sign(x) * (1 - erfc);
    }

    public static double Gelu(double x) => 0.5 * x * (1 + Erf(x / Math.Sqrt(2)));
}
