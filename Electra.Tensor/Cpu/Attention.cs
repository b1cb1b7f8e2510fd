using System.Numerics.Tensors;

namespace Electra.Cpu;

public sealed unsafe partial class CpuBackend
{
    // The CPU reference materialises one T×T score matrix per (batch, head) at a time; (b, h) pairs run in
    // parallel and write disjoint slices of the output, so no reduction crosses threads.

    public void AttentionForward(Tensor qkv, Tensor keyMask, int heads, float scale, float dropout, ulong seed, ulong offset, Tensor output, Tensor lse)
    {
        var (b, t, h, hs) = AttentionDims(qkv, heads);
        float* pq = P(qkv), po = P(output), pl = P(lse);
        int* pm = PI(keyMask);
        float keep = 1f / (1f - dropout);
        Parallel.For(0, b * heads, bh =>
        {
            int bi = bh / heads, hi = bh % heads;
            var p = new float[t];
            var bits = new uint[t];
            for (int i = 0; i < t; i++)
            {
                float* q = pq + ((long)(bi * t + i) * 3 * h) + hi * hs;
                float max = float.NegativeInfinity;
                for (int j = 0; j < t; j++)
                {
                    if (pm[bi * t + j] == 0) { p[j] = float.NegativeInfinity; continue; }
                    float* k = pq + ((long)(bi * t + j) * 3 * h) + h + hi * hs;
                    p[j] = scale * TensorPrimitives.Dot(new ReadOnlySpan<float>(q, hs), new ReadOnlySpan<float>(k, hs));
                    if (p[j] > max) max = p[j];
                }
                float* o = po + (long)(bi * t + i) * h + hi * hs;
                new Span<float>(o, hs).Clear();
                if (float.IsNegativeInfinity(max)) { pl[(long)bh * t + i] = float.NegativeInfinity; continue; }
                double sum = 0;
                for (int j = 0; j < t; j++) { p[j] = MathF.Exp(p[j] - max); sum += p[j]; }
                float lseRow = max + (float)Math.Log(sum);
                pl[(long)bh * t + i] = lseRow;
                if (dropout > 0f) Philox.Fill(seed, offset, ((ulong)bh * (ulong)t + (ulong)i) * (ulong)t, bits);
                float inv = (float)(1.0 / sum);
                for (int j = 0; j < t; j++)
                {
                    float w = p[j] * inv;
                    if (dropout > 0f) w = Philox.Uniform(bits[j]) >= dropout ? w * keep : 0f;
                    if (w == 0f) continue;
                    float* v = pq + ((long)(bi * t + j) * 3 * h) + 2 * h + hi * hs;
                    TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(v, hs), w, new ReadOnlySpan<float>(o, hs), new Span<float>(o, hs));
                }
            }
        });
    }

    public void AttentionBackward(Tensor dOutput, Tensor qkv, Tensor keyMask, Tensor output, Tensor lse, int heads, float scale, float dropout, ulong seed, ulong offset, Tensor dQkv)
    {
        var (b, t, h, hs) = AttentionDims(qkv, heads);
        float* pq = P(qkv), pdo = P(dOutput), po = P(output), pl = P(lse), pd = P(dQkv);
        int* pm = PI(keyMask);
        float keep = 1f / (1f - dropout);
        Parallel.For(0, b * heads, bh =>
        {
            int bi = bh / heads, hi = bh % heads;
            long Row(int i) => (long)(bi * t + i) * 3 * h;
            // Clear this head's slice of dQ, dK, dV.
            for (int i = 0; i < t; i++)
                for (int part = 0; part < 3; part++)
                    new Span<float>(pd + Row(i) + part * h + hi * hs, hs).Clear();
            var bits = new uint[t];
            for (int i = 0; i < t; i++)
            {
                float l = pl[(long)bh * t + i];
                if (float.IsNegativeInfinity(l)) continue;
                var q = new ReadOnlySpan<float>(pq + Row(i) + hi * hs, hs);
                var dO = new ReadOnlySpan<float>(pdo + (long)(bi * t + i) * h + hi * hs, hs);
                var o = new ReadOnlySpan<float>(po + (long)(bi * t + i) * h + hi * hs, hs);
                float dRow = TensorPrimitives.Dot(dO, o); // D_i = Σ_j P_ij·dP_ij = dO_i·O_i, dropout included
                if (dropout > 0f) Philox.Fill(seed, offset, ((ulong)bh * (ulong)t + (ulong)i) * (ulong)t, bits);
                var dQ = new Span<float>(pd + Row(i) + hi * hs, hs);
                for (int j = 0; j < t; j++)
                {
                    if (pm[bi * t + j] == 0) continue;
                    var k = new ReadOnlySpan<float>(pq + Row(j) + h + hi * hs, hs);
                    var v = new ReadOnlySpan<float>(pq + Row(j) + 2 * h + hi * hs, hs);
                    float prob = MathF.Exp(scale * TensorPrimitives.Dot(q, k) - l);
                    float mask = dropout > 0f ? (Philox.Uniform(bits[j]) >= dropout ? keep : 0f) : 1f;
                    // dV_j += P̃_ij·dO_i (P̃ the dropped probabilities); dP_ij = mask·(dO_i·V_j).
                    float pDropped = prob * mask;
                    if (pDropped != 0f)
                    {
                        var dV = new Span<float>(pd + Row(j) + 2 * h + hi * hs, hs);
                        TensorPrimitives.MultiplyAdd(dO, pDropped, dV, dV);
                    }
                    float dP = mask == 0f ? 0f : mask * TensorPrimitives.Dot(dO, v);
                    float dS = prob * (dP - dRow) * scale;
                    if (dS == 0f) continue;
                    TensorPrimitives.MultiplyAdd(k, dS, dQ, dQ);
                    var dK = new Span<float>(pd + Row(j) + h + hi * hs, hs);
                    TensorPrimitives.MultiplyAdd(q, dS, dK, dK);
                }
            }
        });
    }

    private static (int b, int t, int h, int hs) AttentionDims(Tensor qkv, int heads)
    {
        if (qkv.Rank != 3 || qkv.Shape[2] % (3 * heads) != 0)
            throw new ArgumentException($"Attention: qkv must be [B, T, 3·NH·HS], got {qkv.Shape} for {heads} heads");
        int h = qkv.Shape[2] / 3;
        return (qkv.Shape[0], qkv.Shape[1], h, h / heads);
    }
}
