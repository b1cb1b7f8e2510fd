using Electra.Autograd;

namespace Electra;

public static partial class Ops
{
    /// <summary>
    /// Multi-head self-attention on the fused projection qkv [B, T, 3·H] (read as [B, T, 3, NH, HS]) with key
    /// padding mask keyMask [B, T] (I32, 1 = real token). Returns [B, T, H]. Probabilities are dropped with
    /// probability <paramref name="dropout"/> when <paramref name="rng"/> is given. With <paramref name="qkvBias"/>
    /// [3·H] F32, the projection's bias, the attention is that of qkv + qkvBias: the backends add it as they read
    /// Q, K and V and sum its gradient from dQ, dK, dV, so neither the biased projection nor a pass over it exists.
    /// </summary>
    public static Tensor Attention(Tensor qkv, Tensor keyMask, int heads, float dropout = 0f, RandomStream? rng = null, Tensor? qkvBias = null)
    {
        SameDevice("Attention", qkvBias is null ? [qkv, keyMask] : [qkv, keyMask, qkvBias]);
        Activations("Attention", qkv);
        keyMask.RequireDType(DType.I32, "Attention keyMask");
        if (qkvBias is not null)
        {
            F32("Attention", qkvBias);
            if (qkvBias.Rank != 1 || qkvBias.Count != (qkv.Rank == 3 ? qkv.Shape[2] : -1))
                throw new ArgumentException($"Attention: qkvBias {qkvBias.Shape} does not match qkv {qkv.Shape}: expected [{(qkv.Rank == 3 ? qkv.Shape[2] : 0)}]");
        }
        if (qkv.Rank != 3 || qkv.Shape[2] % (3 * heads) != 0)
            throw new ArgumentException($"Attention: qkv must be [B, T, 3·H] with H divisible by {heads} heads, got {qkv.Shape}");
        int b = qkv.Shape[0], t = qkv.Shape[1], h = qkv.Shape[2] / 3, hs = h / heads;
        if (keyMask.Shape != new Shape(b, t))
            throw new ArgumentException($"Attention: keyMask {keyMask.Shape} does not match qkv {qkv.Shape}: expected [{b}, {t}]");
        if (dropout is < 0f or >= 1f) throw new ArgumentOutOfRangeException(nameof(dropout), dropout, "dropout must be in [0, 1)");

        float scale = 1f / MathF.Sqrt(hs);
        float p = rng is null ? 0f : dropout;
        ulong seed = rng?.Seed ?? 0, offset = p > 0f ? rng!.Next() : 0;
        var output = Tensor.Empty(new Shape(b, t, h), qkv.DType, qkv.Device);
        var lse = Tensor.Empty(new Shape(b, heads, t), DType.F32, qkv.Device);
        qkv.Backend.AttentionForward(qkv, keyMask, heads, scale, p, seed, offset, output, lse, qkvBias);
        if (!(qkvBias is null ? Node.ShouldRecord(qkv) : Node.ShouldRecord(qkv, qkvBias)))
        {
            lse.Dispose();
            return output;
        }
        Node.Record("Attention", output, qkvBias is null ? [qkv] : [qkv, qkvBias], g =>
        {
            // dQkv is needed for the bias gradient even when qkv itself wants none.
            var dQkv = Like(qkv);
            var dBias = qkvBias is { RequiresGrad: true } ? Like(qkvBias) : null;
            qkv.Backend.AttentionBackward(g, qkv, keyMask, output, lse, heads, scale, p, seed, offset, dQkv, qkvBias, dBias);
            if (qkvBias is null) return [dQkv];
            return [qkv.RequiresGrad ? dQkv : Discard(dQkv), dBias];
        }, lse);
        return output;
    }

    /// <summary>Inverted dropout: zeroes each element with probability p and scales the rest by 1/(1−p).</summary>
    public static Tensor Dropout(Tensor x, float p, RandomStream rng)
    {
        Activations("Dropout", x);
        if (p is < 0f or >= 1f) throw new ArgumentOutOfRangeException(nameof(p), p, "dropout must be in [0, 1)");
        if (p == 0f) return Scale(x, 1f);
        ulong seed = rng.Seed, offset = rng.Next();
        var y = Like(x);
        x.Backend.Dropout(x, p, seed, offset, y);
        Node.Record("Dropout", y, [x], g =>
        {
            var dX = Like(g);
            x.Backend.Dropout(g, p, seed, offset, dX);
            return [dX];
        });
        return y;
    }
}
