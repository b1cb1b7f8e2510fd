using Electra.Autograd;

namespace Electra;

public static partial class Ops
{
    /// <summary>
    /// LayerNorm(u + residual) over the last axis, u = dropout(x + inputBias) (residual, inputBias may be null;
    /// dropout applies when <paramref name="rng"/> is given): a post-LN block's dense bias, hidden dropout and
    /// "add & norm" in one pass. gamma, beta, inputBias [C].
    /// </summary>
    public static Tensor LayerNorm(Tensor x, Tensor? residual, Tensor gamma, Tensor beta, float eps,
        Tensor? inputBias = null, float dropout = 0f, RandomStream? rng = null)
    {
        Tensor[] operands = [x, .. residual is null ? Array.Empty<Tensor>() : [residual], gamma, beta, .. inputBias is null ? Array.Empty<Tensor>() : [inputBias]];
        SameDevice("LayerNorm", operands);
        Activations("LayerNorm", residual is null ? [x] : [x, residual]);
        F32("LayerNorm", inputBias is null ? [gamma, beta] : [gamma, beta, inputBias]);
        int c = x.Shape.Last;
        if (gamma.Shape != new Shape(c) || beta.Shape != new Shape(c))
            throw new ArgumentException($"LayerNorm: gamma {gamma.Shape} / beta {beta.Shape} must both be [{c}] for input {x.Shape}");
        if (residual is not null && residual.Shape != x.Shape)
            throw new ArgumentException($"LayerNorm: residual {residual.Shape} does not match input {x.Shape}");
        if (inputBias is not null && inputBias.Shape != new Shape(c))
            throw new ArgumentException($"LayerNorm: input bias {inputBias.Shape} must be [{c}] for input {x.Shape}");
        if (dropout is < 0f or >= 1f) throw new ArgumentOutOfRangeException(nameof(dropout), dropout, "dropout must be in [0, 1)");

        float p = rng is null ? 0f : dropout;
        // The offset is drawn where a separate Dropout op would draw it, so the fused and unfused forms agree.
        var input = new LayerNormInput(inputBias, p, rng?.Seed ?? 0, p > 0f ? rng!.Next() : 0);
        int rows = checked((int)x.Shape.Rows);
        bool record = Node.ShouldRecord(operands);
        var y = Like(x);
        var mean = Tensor.Empty(new Shape(rows), DType.F32, x.Device);
        var rstd = Tensor.Empty(new Shape(rows), DType.F32, x.Device);
        // Without a residual or an input transform, x itself is the normalised input; otherwise backward needs s.
        bool needSum = residual is not null || !input.IsIdentity;
        var sum = needSum && (record || !input.IsIdentity) ? Like(x) : null;
        using (var x2 = x.View(rows, c))
        using (var y2 = y.View(rows, c))
        using (var r2 = residual?.View(rows, c))
        using (var s2 = sum?.View(rows, c))
        {
            x.Backend.LayerNormForward(x2, r2, gamma, beta, eps, y2, mean, rstd, s2, input);
        }
        if (!record)
        {
            mean.Dispose();
            rstd.Dispose();
            sum?.Dispose();
            return y;
        }
        var normInput = sum ?? x;
        Node.Record("LayerNorm", y, operands, g =>
        {
            var dS = Like(x);
            // A shared norm (the embeddings', used by generator and discriminator) adds into its earlier use's γ, β
            // gradients: both offered, or neither is taken (one flag serves both).
            var (gammaInto, betaInto) = (GradAccumulation.TargetFor(gamma), GradAccumulation.TargetFor(beta));
            bool addToParams = gammaInto is not null && betaInto is not null;
            var dGamma = addToParams ? gammaInto! : Like(gamma);
            var dBeta = addToParams ? betaInto! : Like(beta);
            // x's gradient is dS itself unless the input was transformed: then dropout(dS), and its column sums
            // are the input bias's gradient.
            var dX = !input.IsIdentity && x.RequiresGrad ? Like(x) : null;
            var dBias = inputBias is not null && inputBias.RequiresGrad ? Like(inputBias) : null;
            using (var g2 = g.View(rows, c))
            using (var n2 = normInput.View(rows, c))
            using (var d2 = dS.View(rows, c))
            using (var dx2 = dX?.View(rows, c))
            {
                x.Backend.LayerNormBackward(g2, n2, gamma, mean, rstd, d2, dGamma, dBeta, input, dx2, dBias, addToParams);
            }
            var grads = new List<Tensor?> { input.IsIdentity ? (x.RequiresGrad ? dS : null) : dX };
            // The residual shares dS with x when x was not transformed; the engine never writes into a gradient
            // that two uses hold.
            if (residual is not null) grads.Add(residual.RequiresGrad ? dS : null);
            grads.Add(gamma.RequiresGrad ? dGamma : Discard(dGamma));
            grads.Add(beta.RequiresGrad ? dBeta : Discard(dBeta));
            if (inputBias is not null) grads.Add(dBias);
            if (!grads.Any(t => ReferenceEquals(t, dS))) dS.Dispose();
            return grads.ToArray();
        }, sum is null ? [mean, rstd] : [mean, rstd, sum]);
        return y;
    }
}
