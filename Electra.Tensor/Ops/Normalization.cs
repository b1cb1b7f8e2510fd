using Electra.Autograd;

namespace Electra;

public static partial class Ops
{
    /// <summary>
    /// LayerNorm(x + residual) over the last axis (residual may be null): the post-LN block's "add & norm" in one
    /// pass. gamma, beta [C].
    /// </summary>
    public static Tensor LayerNorm(Tensor x, Tensor? residual, Tensor gamma, Tensor beta, float eps)
    {
        SameDevice("LayerNorm", residual is null ? [x, gamma, beta] : [x, residual, gamma, beta]);
        F32("LayerNorm", residual is null ? [x, gamma, beta] : [x, residual, gamma, beta]);
        int c = x.Shape.Last;
        if (gamma.Shape != new Shape(c) || beta.Shape != new Shape(c))
            throw new ArgumentException($"LayerNorm: gamma {gamma.Shape} / beta {beta.Shape} must both be [{c}] for input {x.Shape}");
        if (residual is not null && residual.Shape != x.Shape)
            throw new ArgumentException($"LayerNorm: residual {residual.Shape} does not match input {x.Shape}");

        int rows = checked((int)x.Shape.Rows);
        bool record = Node.ShouldRecord(residual is null ? [x, gamma, beta] : [x, residual, gamma, beta]);
        var y = Like(x);
        var mean = Tensor.Empty(new Shape(rows), DType.F32, x.Device);
        var rstd = Tensor.Empty(new Shape(rows), DType.F32, x.Device);
        // Without a residual, x itself is the normalised input; with one, backward needs the sum.
        var sum = record && residual is not null ? Like(x) : null;
        using (var x2 = x.View(rows, c))
        using (var y2 = y.View(rows, c))
        using (var r2 = residual?.View(rows, c))
        using (var s2 = sum?.View(rows, c))
        {
            x.Backend.LayerNormForward(x2, r2, gamma, beta, eps, y2, mean, rstd, s2);
        }
        if (!record)
        {
            mean.Dispose();
            rstd.Dispose();
            return y;
        }
        var normInput = sum ?? x;
        Tensor[] inputs = residual is null ? [x, gamma, beta] : [x, residual, gamma, beta];
        Node.Record("LayerNorm", y, inputs, g =>
        {
            var dS = Like(x);
            var dGamma = Like(gamma);
            var dBeta = Like(beta);
            using (var g2 = g.View(rows, c))
            using (var n2 = normInput.View(rows, c))
            using (var d2 = dS.View(rows, c))
            {
                x.Backend.LayerNormBackward(g2, n2, gamma, mean, rstd, d2, dGamma, dBeta);
            }
            var dGammaOut = gamma.RequiresGrad ? dGamma : Discard(dGamma);
            var dBetaOut = beta.RequiresGrad ? dBeta : Discard(dBeta);
            if (residual is null) return [dS, dGammaOut, dBetaOut];
            // x and residual receive the same gradient tensor; the engine never writes into a gradient that two uses hold.
            return [x.RequiresGrad ? dS : null, residual.RequiresGrad ? dS : null, dGammaOut, dBetaOut];
        }, sum is null ? [mean, rstd] : [mean, rstd, sum]);
        return y;
    }
}
