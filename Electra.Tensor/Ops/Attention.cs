using Electra.Autograd;

namespace Electra;

public static partial class Ops
{
    /// <summary>
    /// Multi-head self-attention on the fused projection qkv [B, T, 3·H] (read as [B, T, 3, NH, HS]) with key
    /// padding mask keyMask [B, T] (I32, 1 = real token). Returns [B, T, H]. Probabilities are dropped with
    /// probability <paramref name="dropout"/> when <paramref name="rng"/> is given.
    /// </summary>
    public static Tensor Attention(Tensor qkv, Tensor keyMask, int heads, float dropout = 0f, RandomStream? rng = null)
    {
        SameDevice("Attention", qkv, keyMask);
        Activations("Attention", qkv);
        keyMask.RequireDType(DType.I32, "Attention keyMask");
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
        qkv.Backend.AttentionForward(qkv, keyMask, heads, scale, p, seed, offset, output, lse);
        if (!Node.ShouldRecord(qkv))
        {
            lse.Dispose();
            return output;
        }
        Node.Record("Attention", output, [qkv], g =>
        {
            var dQkv = Like(qkv);
            qkv.Backend.AttentionBackward(g, qkv, keyMask, output, lse, heads, scale, p, seed, offset, dQkv);
            return [dQkv];
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
