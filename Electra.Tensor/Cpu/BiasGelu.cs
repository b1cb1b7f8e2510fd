using System.Numerics.Tensors;
using System.Runtime.CompilerServices;

namespace Electra.Cpu;

public sealed unsafe partial class CpuBackend
{
    public void AddBias(Tensor x, Tensor bias, Tensor y)
    {
        int rows = (int)x.Shape.Rows, cols = x.Shape.Last;
        CheckBias("AddBias", x, bias, y);
        float* px = P(x), pb = P(bias), py = P(y);
        ParallelRows(rows, cols, (s, e) =>
        {
            var b = new ReadOnlySpan<float>(pb, cols);
            for (int r = s; r < e; r++)
                TensorPrimitives.Add(new ReadOnlySpan<float>(px + (long)r * cols, cols), b, new Span<float>(py + (long)r * cols, cols));
        });
    }

    public void SumRows(Tensor dY, Tensor dBias, float beta)
    {
        int rows = (int)dY.Shape.Rows, cols = dY.Shape.Last;
        if (dBias.Count != cols) throw new ArgumentException($"SumRows: dBias {dBias.Shape} needs {cols} elements for dY {dY.Shape}");
        ColumnSums(P(dY), rows, cols, P(dBias), beta);
    }

    /// <summary>
    /// Column sums of a [rows, cols] matrix, deterministic: fixed row blocks summed in parallel, then the block
    /// partials added in order.
    /// </summary>
    internal static void ColumnSums(float* x, int rows, int cols, float* dst, float beta)
    {
        const int blockRows = 256;
        int blocks = (rows + blockRows - 1) / blockRows;
        var partial = new float[(long)Math.Max(blocks, 1) * cols];
        fixed (float* pp = partial)
        {
            float* part = pp;
            Parallel.For(0, blocks, blk =>
            {
                var acc = new Span<float>(part + (long)blk * cols, cols);
                int end = Math.Min(rows, (blk + 1) * blockRows);
                for (int r = blk * blockRows; r < end; r++)
                    TensorPrimitives.Add(acc, new ReadOnlySpan<float>(x + (long)r * cols, cols), acc);
            });
            var d = new Span<float>(dst, cols);
            if (beta == 0f) d.Clear();
            else if (beta != 1f) TensorPrimitives.Multiply(d, beta, d);
            for (int blk = 0; blk < blocks; blk++)
                TensorPrimitives.Add(d, new ReadOnlySpan<float>(part + (long)blk * cols, cols), d);
        }
    }

    public void BiasGeluForward(Tensor x, Tensor bias, Tensor y)
    {
        CheckBias("BiasGeluForward", x, bias, y);
        int rows = (int)x.Shape.Rows, cols = x.Shape.Last;
        float* px = P(x), pb = P(bias), py = P(y);
        ParallelRows(rows, cols * 8L, (s, e) =>
        {
            for (int r = s; r < e; r++)
            {
                float* xr = px + (long)r * cols, yr = py + (long)r * cols;
                for (int j = 0; j < cols; j++) yr[j] = Gelu(xr[j] + pb[j]);
            }
        });
    }

    public void BiasGeluBackward(Tensor dY, Tensor x, Tensor bias, Tensor dX, Tensor dBias)
    {
        CheckBias("BiasGeluBackward", x, bias, dX);
        SameCount("BiasGeluBackward", dY, x);
        int rows = (int)x.Shape.Rows, cols = x.Shape.Last;
        float* pdy = P(dY), px = P(x), pb = P(bias), pdx = P(dX);
        ParallelRows(rows, cols * 8L, (s, e) =>
        {
            for (int r = s; r < e; r++)
            {
                long o = (long)r * cols;
                for (int j = 0; j < cols; j++) pdx[o + j] = pdy[o + j] * GeluGrad(px[o + j] + pb[j]);
            }
        });
        ColumnSums(pdx, rows, cols, P(dBias), 0f);
    }

    private static void CheckBias(string op, Tensor x, Tensor bias, Tensor y)
    {
        SameCount(op, x, y);
        if (bias.Count != x.Shape.Last)
            throw new ArgumentException($"{op}: bias {bias.Shape} does not match the last axis of {x.Shape}");
    }

    private const float InvSqrt2 = 0.70710678118654752f;
    private const float InvSqrt2Pi = 0.39894228040143268f;

    /// <summary>GELU(x) = x·Φ(x) with the exact normal CDF Φ(x) = ½(1 + erf(x/√2)).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float Gelu(float x) => 0.5f * x * (1f + Erf(x * InvSqrt2));

    /// <summary>d/dx GELU = Φ(x) + x·φ(x).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float GeluGrad(float x) => 0.5f * (1f + Erf(x * InvSqrt2)) + x * InvSqrt2Pi * MathF.Exp(-0.5f * x * x);

    /// <summary>
    /// erf to float precision (max error about 1e-7), evaluated in double: the complementary error function by the
    /// Chebyshev fit of Numerical Recipes (erfc(z) = t·exp(−z² + P(t)), t = 2/(2 + z)).
    /// </summary>
    internal static float Erf(float xf)
    {
        double x = xf;
        double z = Math.Abs(x);
        double t = 2.0 / (2.0 + z);
        double ty = 4.0 * t - 2.0;
        ReadOnlySpan<double> cof =
        [
            -1.3026537197817094, 6.4196979235649026e-1, 1.9476473204185836e-2, -9.561514786808631e-3,
            -9.46595344482036e-4, 3.66839497852761e-4, 4.2523324806907e-5, -2.0278578112534e-5,
            -1.624290004647e-6, 1.303655835580e-6, 1.5626441722e-8, -8.5238095915e-8,
            6.529054439e-9, 5.059343495e-9, -9.91364156e-10, -2.27365122e-10,
            9.6467911e-11, 2.394038e-12, -6.886027e-12, 8.94487e-13, 3.13092e-13,
            -1.12708e-13, 3.81e-16, 7.106e-15, -1.523e-15, -9.4e-17, 1.21e-16, -2.8e-17,
        ];
        double d = 0, dd = 0;
        for (int j = cof.Length - 1; j > 0; j--)
        {
            double tmp = d;
            d = ty * d - dd + cof[j];
            dd = tmp;
        }
        double erfc = t * Math.Exp(-z * z + 0.5 * (cof[0] + ty * d) - dd);
        return (float)(x >= 0 ? 1.0 - erfc : erfc - 1.0);
    }
}
