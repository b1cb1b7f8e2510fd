using System.Numerics.Tensors;

namespace Electra.Cpu;

public sealed unsafe partial class CpuBackend
{
    public void LayerNormForward(Tensor x, Tensor? residual, Tensor gamma, Tensor beta, float eps, Tensor y, Tensor mean, Tensor rstd, Tensor? sum)
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
                double m = 0;
                for (int j = 0; j < c; j++) m += v[j];
                m /= c;
                double var = 0;
                for (int j = 0; j < c; j++) { double d = v[j] - m; var += d * d; }
                var /= c;
                float rs = (float)(1.0 / Math.Sqrt(var + eps));
                float mf = (float)m;
                pm[r] = mf;
                ps[r] = rs;
                float* yr = py + o;
                for (int j = 0; j < c; j++) yr[j] = (v[j] - mf) * rs * pg[j] + pb[j];
            }
        });
    }

    public void LayerNormBackward(Tensor dY, Tensor sum, Tensor gamma, Tensor mean, Tensor rstd, Tensor dS, Tensor dGamma, Tensor dBeta)
    {
        int rows = (int)dY.Shape.Rows, c = dY.Shape.Last;
        float* pdy = P(dY), px = P(sum), pg = P(gamma), pm = P(mean), ps = P(rstd), pdx = P(dS);
        // dx = rstd·(dŷ − mean(dŷ) − x̂·mean(dŷ∘x̂)), dŷ = dy∘γ. dγ = Σ dy∘x̂, dβ = Σ dy over rows (two-stage).
        var xhatDy = new float[(long)rows * c];
        fixed (float* pxd = xhatDy)
        {
            float* xd = pxd;
            ParallelRows(rows, c * 6L, (s, e) =>
            {
                for (int r = s; r < e; r++)
                {
                    long o = (long)r * c;
                    float m = pm[r], rs = ps[r];
                    float sumDyHat = 0, sumDyHatXhat = 0;
                    for (int j = 0; j < c; j++)
                    {
                        float xhat = (px[o + j] - m) * rs;
                        float dyhat = pdy[o + j] * pg[j];
                        sumDyHat += dyhat;
                        sumDyHatXhat += dyhat * xhat;
                        xd[o + j] = pdy[o + j] * xhat;
                    }
                    float meanDyHat = sumDyHat / c, meanDyHatXhat = sumDyHatXhat / c;
                    for (int j = 0; j < c; j++)
                    {
                        float xhat = (px[o + j] - m) * rs;
                        pdx[o + j] = rs * (pdy[o + j] * pg[j] - meanDyHat - xhat * meanDyHatXhat);
                    }
                }
            });
            ColumnSums(xd, rows, c, P(dGamma), 0f);
        }
        ColumnSums(pdy, rows, c, P(dBeta), 0f);
    }
}
