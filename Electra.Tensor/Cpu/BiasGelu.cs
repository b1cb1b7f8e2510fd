using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

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
                int j = 0;
                if (Vector512.IsHardwareAccelerated)
                    for (; j + 16 <= cols; j += 16)
                        Vector512.Store(Gelu(Vector512.Load(xr + j) + Vector512.Load(pb + j)), yr + j);
                else if (Vector256.IsHardwareAccelerated)
                    for (; j + 8 <= cols; j += 8)
                        Vector256.Store(Gelu(Vector256.Load(xr + j) + Vector256.Load(pb + j)), yr + j);
                for (; j < cols; j++) yr[j] = Gelu(xr[j] + pb[j]);
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
                float* xr = px + o, dyr = pdy + o, dxr = pdx + o;
                int j = 0;
                if (Vector512.IsHardwareAccelerated)
                    for (; j + 16 <= cols; j += 16)
                        Vector512.Store(Vector512.Load(dyr + j) * GeluGrad(Vector512.Load(xr + j) + Vector512.Load(pb + j)), dxr + j);
                else if (Vector256.IsHardwareAccelerated)
                    for (; j + 8 <= cols; j += 8)
                        Vector256.Store(Vector256.Load(dyr + j) * GeluGrad(Vector256.Load(xr + j) + Vector256.Load(pb + j)), dxr + j);
                for (; j < cols; j++) dxr[j] = dyr[j] * GeluGrad(xr[j] + pb[j]);
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
    internal static float GeluGrad(float x) => 0.5f * (1f + Erf(x * InvSqrt2)) + x * InvSqrt2Pi * Vector256.Exp(Vector256.Create(-0.5f * x * x)).ToScalar();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<float> Gelu(Vector512<float> x) => 0.5f * x * (Vector512<float>.One + Erf(x * InvSqrt2));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> Gelu(Vector256<float> x) => 0.5f * x * (Vector256<float>.One + Erf(x * InvSqrt2));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<float> GeluGrad(Vector512<float> x) =>
        0.5f * (Vector512<float>.One + Erf(x * InvSqrt2)) + x * InvSqrt2Pi * Vector512.Exp(-0.5f * x * x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> GeluGrad(Vector256<float> x) =>
        0.5f * (Vector256<float>.One + Erf(x * InvSqrt2)) + x * InvSqrt2Pi * Vector256.Exp(-0.5f * x * x);

    // erf in float arithmetic, the same per lane at every vector width (the scalar form runs one lane of the 256-bit
    // one), so an element's value does not depend on where it sits in a row.
    //   |x| < 1:        erf(x) = x·P(x²)
    //   1 ≤ |x| < 3.92: erf(x) = 1 − exp(Q(|x| − 2.5))   (Q fits log erfc; erfc ≤ 0.16 here, so exp's rounding
    //                                                      is scaled down rather than up)
    //   |x| ≥ 3.92:     erf(x) = ±1                       (erfc(3.92) < 6e-8, under half an ulp of 1)
    // P (degree 6 in x²) and Q (degree 9) are near-minimax fits made in double (Lawson-weighted least squares against
    // a double erf, fit errors 1.2e-9 and 4.5e-9), coefficients rounded to float. Evaluated in float with FMA the
    // error over [-6, 6] is at most about 1.2e-7 (2 ulp just below 1); GeluTests checks it against a double erf.
    private const float ErfSplit = 1f, ErfOne = 3.92f, ErfCentre = 2.5f;
    private const float P0 = 1.1283791065216064f, P1 = -0.3761262595653534f, P2 = 0.11283600330352783f,
        P3 = -0.02685444802045822f, P4 = 0.005189541261643171f, P5 = -0.0008020898676477373f, P6 = 7.889325206633657e-05f;
    private const float Q0 = -7.806815147399902f, Q1 = -5.352680683135986f, Q2 = -0.9438936710357666f,
        Q3 = -0.01085825078189373f, Q4 = 0.0021652316208928823f, Q5 = -0.0004205512523185462f,
        Q6 = 7.733238453511149e-05f, Q7 = -1.3081269571557641e-05f, Q8 = 1.630617134651402e-06f, Q9 = -4.222813743126608e-08f;

    /// <summary>erf to float precision (|error| ≤ ~1.2e-7 absolute).</summary>
    internal static float Erf(float x) => Erf(Vector256.Create(x)).ToScalar();

    internal static Vector512<float> Erf(Vector512<float> x)
    {
        var ax = Vector512.Abs(x);
        var t = ax * ax;
        var p = Vector512.Create(P6);
        p = Vector512.FusedMultiplyAdd(p, t, Vector512.Create(P5));
        p = Vector512.FusedMultiplyAdd(p, t, Vector512.Create(P4));
        p = Vector512.FusedMultiplyAdd(p, t, Vector512.Create(P3));
        p = Vector512.FusedMultiplyAdd(p, t, Vector512.Create(P2));
        p = Vector512.FusedMultiplyAdd(p, t, Vector512.Create(P1));
        p = Vector512.FusedMultiplyAdd(p, t, Vector512.Create(P0));
        var small = ax * p;
        var u = ax - Vector512.Create(ErfCentre);
        var q = Vector512.Create(Q9);
        q = Vector512.FusedMultiplyAdd(q, u, Vector512.Create(Q8));
        q = Vector512.FusedMultiplyAdd(q, u, Vector512.Create(Q7));
        q = Vector512.FusedMultiplyAdd(q, u, Vector512.Create(Q6));
        q = Vector512.FusedMultiplyAdd(q, u, Vector512.Create(Q5));
        q = Vector512.FusedMultiplyAdd(q, u, Vector512.Create(Q4));
        q = Vector512.FusedMultiplyAdd(q, u, Vector512.Create(Q3));
        q = Vector512.FusedMultiplyAdd(q, u, Vector512.Create(Q2));
        q = Vector512.FusedMultiplyAdd(q, u, Vector512.Create(Q1));
        q = Vector512.FusedMultiplyAdd(q, u, Vector512.Create(Q0));
        var large = Vector512<float>.One - Vector512.Exp(q);
        var r = Vector512.ConditionalSelect(Vector512.LessThan(ax, Vector512.Create(ErfSplit)), small, large);
        r = Vector512.ConditionalSelect(Vector512.GreaterThanOrEqual(ax, Vector512.Create(ErfOne)), Vector512<float>.One, r);
        return Vector512.CopySign(r, x);
    }

    internal static Vector256<float> Erf(Vector256<float> x)
    {
        var ax = Vector256.Abs(x);
        var t = ax * ax;
        var p = Vector256.Create(P6);
        p = Vector256.FusedMultiplyAdd(p, t, Vector256.Create(P5));
        p = Vector256.FusedMultiplyAdd(p, t, Vector256.Create(P4));
        p = Vector256.FusedMultiplyAdd(p, t, Vector256.Create(P3));
        p = Vector256.FusedMultiplyAdd(p, t, Vector256.Create(P2));
        p = Vector256.FusedMultiplyAdd(p, t, Vector256.Create(P1));
        p = Vector256.FusedMultiplyAdd(p, t, Vector256.Create(P0));
        var small = ax * p;
        var u = ax - Vector256.Create(ErfCentre);
        var q = Vector256.Create(Q9);
        q = Vector256.FusedMultiplyAdd(q, u, Vector256.Create(Q8));
        q = Vector256.FusedMultiplyAdd(q, u, Vector256.Create(Q7));
        q = Vector256.FusedMultiplyAdd(q, u, Vector256.Create(Q6));
        q = Vector256.FusedMultiplyAdd(q, u, Vector256.Create(Q5));
        q = Vector256.FusedMultiplyAdd(q, u, Vector256.Create(Q4));
        q = Vector256.FusedMultiplyAdd(q, u, Vector256.Create(Q3));
        q = Vector256.FusedMultiplyAdd(q, u, Vector256.Create(Q2));
        q = Vector256.FusedMultiplyAdd(q, u, Vector256.Create(Q1));
        q = Vector256.FusedMultiplyAdd(q, u, Vector256.Create(Q0));
        var large = Vector256<float>.One - Vector256.Exp(q);
        var r = Vector256.ConditionalSelect(Vector256.LessThan(ax, Vector256.Create(ErfSplit)), small, large);
        r = Vector256.ConditionalSelect(Vector256.GreaterThanOrEqual(ax, Vector256.Create(ErfOne)), Vector256<float>.One, r);
        return Vector256.CopySign(r, x);
    }
}
