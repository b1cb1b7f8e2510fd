using System.Runtime.Intrinsics;
using Electra.Cpu;

namespace Electra.Tests.Tensor;

using Tensor = Electra.Tensor;

/// <summary>
/// The vectorised float erf and the exact GELU built on it, against double-precision references.
/// The reference erf is the series erf(x) = (2/√π)·e^(−x²)·Σ_n 2ⁿ·x^(2n+1)/(1·3·…·(2n+1)): every term is positive,
/// so there is no cancellation and it is accurate to ~1e-16 over [-6, 6] in double.
/// </summary>
public class GeluTests
{
    private static double ErfRef(double x)
    {
        double ax = Math.Abs(x), term = ax, sum = ax;
        for (int n = 1; n < 500 && term > sum * 1e-18; n++)
        {
            term *= 2 * ax * ax / (2 * n + 1);
            sum += term;
        }
        return Math.CopySign(2 / Math.Sqrt(Math.PI) * Math.Exp(-ax * ax) * sum, x);
    }

    private static double GeluRef(double x) => 0.5 * x * (1 + ErfRef(x / Math.Sqrt(2)));

    private static double GeluGradRef(double x) => 0.5 * (1 + ErfRef(x / Math.Sqrt(2))) + x * Math.Exp(-0.5 * x * x) / Math.Sqrt(2 * Math.PI);

    /// <summary>Every float in [-6, 6] on a grid of 2⁻¹⁶ (786 433 points), plus the region edges.</summary>
    private static float[] DenseGrid()
    {
        var xs = new List<float>();
        for (int i = -6 * 65536; i <= 6 * 65536; i++) xs.Add(i / 65536f);
        foreach (float e in new[] { 1f, 3.92f })
            xs.AddRange([e, MathF.BitDecrement(e), MathF.BitIncrement(e), -e, -MathF.BitDecrement(e)]);
        xs.AddRange([1e-30f, -1e-30f, 1e-8f, 7f, -9f, 50f, -1e30f]);
        return [.. xs];
    }

    [Test]
    public void ReferenceErfIsItselfRight()
    {
        // Known values (Abramowitz & Stegun table 7.1 / high-precision tables).
        Assert.That(ErfRef(0.5), Is.EqualTo(0.5204998778130465).Within(1e-15));
        Assert.That(ErfRef(1.0), Is.EqualTo(0.8427007929497149).Within(1e-15));
        Assert.That(ErfRef(2.0), Is.EqualTo(0.9953222650189527).Within(1e-15));
        Assert.That(ErfRef(-3.0), Is.EqualTo(-0.9999779095030014).Within(1e-15));
    }

    [Test]
    public void VectorErfIsWithin2e7OfDoubleOverDenseGrid()
    {
        var xs = DenseGrid();
        double worst = 0;
        float worstAt = 0;
        for (int i = 0; i + 16 <= xs.Length; i += 16)
        {
            var v512 = CpuBackend.Erf(Vector512.Create(xs, i));
            var v256a = CpuBackend.Erf(Vector256.Create(xs, i));
            var v256b = CpuBackend.Erf(Vector256.Create(xs, i + 8));
            for (int j = 0; j < 16; j++)
            {
                float x = xs[i + j];
                float got = v512[j];
                // Same value at every width and in the scalar form: a row's tail must not differ from its body.
                Assert.That(j < 8 ? v256a[j] : v256b[j - 8], Is.EqualTo(got), $"Vector256 erf({x})");
                Assert.That(CpuBackend.Erf(x), Is.EqualTo(got), $"scalar erf({x})");
                double err = Math.Abs(got - ErfRef(x));
                if (err > worst) { worst = err; worstAt = x; }
            }
        }
        TestContext.Out.WriteLine($"max |erf error| {worst:E3} at x = {worstAt}");
        Assert.That(worst, Is.LessThanOrEqualTo(2e-7), $"worst at x = {worstAt}");
    }

    [Test]
    public void ErfIsOddExactAtZeroAndPropagatesNaN()
    {
        Assert.That(CpuBackend.Erf(0f), Is.EqualTo(0f));
        Assert.That(CpuBackend.Erf(float.PositiveInfinity), Is.EqualTo(1f));
        Assert.That(CpuBackend.Erf(float.NegativeInfinity), Is.EqualTo(-1f));
        Assert.That(float.IsNaN(CpuBackend.Erf(float.NaN)), Is.True);
        foreach (float x in new[] { 0.3f, 0.999f, 1.7f, 3.5f })
            Assert.That(CpuBackend.Erf(-x), Is.EqualTo(-CpuBackend.Erf(x)));
    }

    // GELU error: the erf error scaled by x/2, plus a few float roundings of the result.
    private static double GeluTolerance(double x, double want) => 0.5 * Math.Abs(x) * 2e-7 + 4e-7 * Math.Abs(want) + 1e-30;

    [Test]
    public void ScalarGeluAndGradientMatchDouble()
    {
        for (float x = -8f; x <= 8f; x += 1f / 512)
        {
            double g = GeluRef(x), d = GeluGradRef(x);
            Assert.That(CpuBackend.Gelu(x), Is.EqualTo(g).Within(GeluTolerance(x, g)), $"GELU({x})");
            Assert.That(CpuBackend.GeluGrad(x), Is.EqualTo(d).Within(GeluTolerance(x, d) + 2e-7), $"GELU'({x})");
        }
    }

    [TestCase(3, 37)]      // tail only after two 16-wide vectors
    [TestCase(64, 256)]
    [TestCase(5, 7)]       // shorter than one vector
    public void BiasGeluForwardAndBackwardMatchDouble(int rows, int cols)
    {
        var x = TestData.RandomFloats(rows * cols, 7, scale: 5f);
        var bias = TestData.RandomFloats(cols, 8, scale: 1f);
        var dy = TestData.RandomFloats(rows * cols, 9);
        using var tx = Tensor.FromArray(x, [rows, cols]);
        using var tb = Tensor.FromArray(bias, [cols]);
        using var tdy = Tensor.FromArray(dy, [rows, cols]);
        using var ty = Tensor.Full([rows, cols], float.NaN);
        using var tdx = Tensor.Full([rows, cols], float.NaN);
        using var tdb = Tensor.Full([cols], float.NaN);
        CpuBackend.Instance.BiasGeluForward(tx, tb, ty);
        CpuBackend.Instance.BiasGeluBackward(tdy, tx, tb, tdx, tdb);
        var y = ty.ToFloatArray();
        var dx = tdx.ToFloatArray();
        var db = tdb.ToFloatArray();
        var dbWant = new double[cols];
        var dbAbs = new double[cols];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++)
            {
                int i = r * cols + c;
                float v = x[i] + bias[c];   // the op adds in float before GELU
                double g = GeluRef(v), d = dy[i] * GeluGradRef(v);
                Assert.That(y[i], Is.EqualTo(g).Within(GeluTolerance(v, g)), $"y[{r}, {c}] (x + b = {v})");
                Assert.That(y[i], Is.EqualTo(CpuBackend.Gelu(v)), $"y[{r}, {c}]: vector body and scalar tail must agree");
                Assert.That(dx[i], Is.EqualTo(d).Within(Math.Abs(dy[i]) * (GeluTolerance(v, d / dy[i]) + 2e-7) + 1e-30), $"dX[{r}, {c}]");
                dbWant[c] += dx[i];
                dbAbs[c] += Math.Abs(dx[i]);
            }
        for (int c = 0; c < cols; c++)
            // A float sum of the same dX values, in any order: within rows·u·Σ|dX| of the exact sum.
            Assert.That(db[c], Is.EqualTo(dbWant[c]).Within(rows * 6e-8 * dbAbs[c] + 1e-30), $"dBias[{c}]");
    }
}
