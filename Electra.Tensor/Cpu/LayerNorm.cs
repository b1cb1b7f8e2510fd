using System.Buffers;
using System.Numerics.Tensors;
using System.Runtime.Intrinsics;

namespace Electra.Cpu;

public sealed unsafe partial class CpuBackend
{
    /// <summary>The input transform is the spec's composition: AddBias, then Dropout, then the norm below.</summary>
    public void LayerNormForward(Tensor x, Tensor? residual, Tensor gamma, Tensor beta, float eps, Tensor y, Tensor mean, Tensor rstd, Tensor? sum,
        LayerNormInput input = default)
    {
        if (input.IsIdentity)
        {
            LayerNormForward(x, residual, gamma, beta, eps, y, mean, rstd, sum);
            return;
        }
        if (sum is null) throw new ArgumentException("LayerNormForward: a bias or dropout on the input needs the sum tensor (backward reads s)");
        using var u = Tensor.Empty(x.Shape, DType.F32, x.Device);
        if (input.Bias is not null) AddBias(x, input.Bias, u);
        else Copy(x, u);
        if (input.Dropout > 0f) Dropout(u, input.Dropout, input.Seed, input.Offset, u);
        LayerNormForward(u, residual, gamma, beta, eps, y, mean, rstd, sum);
        if (residual is null) Copy(u, sum);
    }

    private void LayerNormForward(Tensor x, Tensor? residual, Tensor gamma, Tensor beta, float eps, Tensor y, Tensor mean, Tensor rstd, Tensor? sum)
    {
        int rows = (int)x.Shape.Rows, c = x.Shape.Last;
        if (gamma.Count != c || beta.Count != c || mean.Count != rows || rstd.Count != rows)
            throw new ArgumentException($"LayerNormForward: gamma/beta need {c} elements and mean/rstd {rows} for input {x.Shape}");
        float* px = P(x), pr = residual is null ? null : P(residual), pg = P(gamma), pb = P(beta);
        float* py = P(y), pm = P(mean), ps = P(rstd), psum = sum is null ? null : P(sum);
        ParallelRows(rows, c * 4L, (s, e) =>
        {
            var scratch = new float[c];
            for (int r = s; r < e; r++)
            {
                long o = (long)r * c;
                var xr = new ReadOnlySpan<float>(px + o, c);
                var v = scratch.AsSpan();
                if (pr is null) xr.CopyTo(v);
                else TensorPrimitives.Add(xr, new ReadOnlySpan<float>(pr + o, c), v);
                if (psum is not null) v.CopyTo(new Span<float>(psum + o, c));
                // Two passes (mean, then centred variance) in double: exact for rows with a large common offset.
                double m = SumInDouble(v) / c;
                double var = CentredSquaresInDouble(v, m) / c;
                float rs = (float)(1.0 / Math.Sqrt(var + eps));
                pm[r] = (float)m;
                ps[r] = rs;
                var yr = new Span<float>(py + o, c);
                TensorPrimitives.Subtract(v, (float)m, yr);                  // y = (v − mean)·rstd·γ + β
                TensorPrimitives.Multiply(yr, rs, yr);
                TensorPrimitives.FusedMultiplyAdd(yr, new ReadOnlySpan<float>(pg, c), new ReadOnlySpan<float>(pb, c), yr);
            }
        });
    }

    public void LayerNormBackward(Tensor dY, Tensor sum, Tensor gamma, Tensor mean, Tensor rstd, Tensor dS, Tensor dGamma, Tensor dBeta,
        LayerNormInput input = default, Tensor? dX = null, Tensor? dBias = null, bool addToParams = false)
    {
        LayerNormBackward(dY, sum, gamma, mean, rstd, dS, dGamma, dBeta, addToParams ? 1f : 0f);
        var dInput = dS;
        if (dX is not null)
        {
            if (input.Dropout > 0f) Dropout(dS, input.Dropout, input.Seed, input.Offset, dX);
            else Copy(dS, dX);
            dInput = dX;
        }
        if (dBias is not null) SumRows(dInput, dBias, 0f);
    }

    private void LayerNormBackward(Tensor dY, Tensor sum, Tensor gamma, Tensor mean, Tensor rstd, Tensor dS, Tensor dGamma, Tensor dBeta, float paramsBeta)
    {
        int rows = (int)dY.Shape.Rows, c = dY.Shape.Last;
        float* pdy = P(dY), px = P(sum), pg = P(gamma), pm = P(mean), ps = P(rstd), pdx = P(dS);
        // dx = rstd·(dŷ − mean(dŷ) − x̂·mean(dŷ∘x̂)), dŷ = dy∘γ. dγ = Σ dy∘x̂, dβ = Σ dy over rows (two-stage).
        var dyXhat = ArrayPool<float>.Shared.Rent(checked(rows * c));
        fixed (float* pxd = dyXhat)
        {
            float* xd = pxd;
            ParallelRows(rows, c * 6L, (s, e) =>
            {
                var xhat = new float[c];
                var dyHat = new float[c];
                var g = new ReadOnlySpan<float>(pg, c);
                for (int r = s; r < e; r++)
                {
                    long o = (long)r * c;
                    var dy = new ReadOnlySpan<float>(pdy + o, c);
                    TensorPrimitives.Subtract(new ReadOnlySpan<float>(px + o, c), pm[r], xhat);
                    TensorPrimitives.Multiply(xhat, ps[r], xhat);
                    TensorPrimitives.Multiply(dy, g, dyHat);
                    TensorPrimitives.Multiply(dy, xhat, new Span<float>(xd + o, c));
                    float meanDyHat = TensorPrimitives.Sum(dyHat) / c, meanDyHatXhat = TensorPrimitives.Dot(dyHat, xhat) / c;
                    var dx = new Span<float>(pdx + o, c);
                    TensorPrimitives.MultiplyAdd(xhat, -meanDyHatXhat, dyHat, dx);   // dŷ − x̂·mean(dŷ∘x̂)
                    TensorPrimitives.Subtract(dx, meanDyHat, dx);
                    TensorPrimitives.Multiply(dx, ps[r], dx);
                }
            });
            ColumnSums(xd, rows, c, P(dGamma), paramsBeta);
        }
        ArrayPool<float>.Shared.Return(dyXhat);
        ColumnSums(pdy, rows, c, P(dBeta), paramsBeta);
    }

    /// <summary>Σ v in double precision, sixteen floats (widened) at a time.</summary>
    private static double SumInDouble(ReadOnlySpan<float> v)
    {
        int j = 0;
        var acc = Vector512<double>.Zero;
        if (Vector512.IsHardwareAccelerated)
            for (; j + 16 <= v.Length; j += 16)
            {
                var x = Vector512.Create(v.Slice(j, 16));
                acc += Vector512.WidenLower(x) + Vector512.WidenUpper(x);
            }
        double sum = Vector512.Sum(acc);
        for (; j < v.Length; j++) sum += v[j];
        return sum;
    }

    /// <summary>Σ (v − m)² in double precision.</summary>
    private static double CentredSquaresInDouble(ReadOnlySpan<float> v, double m)
    {
        int j = 0;
        var acc = Vector512<double>.Zero;
        if (Vector512.IsHardwareAccelerated)
        {
            var vm = Vector512.Create(m);
            for (; j + 16 <= v.Length; j += 16)
            {
                var x = Vector512.Create(v.Slice(j, 16));
                var lo = Vector512.WidenLower(x) - vm;
                var hi = Vector512.WidenUpper(x) - vm;
                acc += lo * lo + hi * hi;
            }
        }
        double sum = Vector512.Sum(acc);
        for (; j < v.Length; j++) { double d = v[j] - m; sum += d * d; }
        return sum;
    }
}
