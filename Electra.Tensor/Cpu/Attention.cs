using System.Buffers;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Electra.Cpu;

public sealed unsafe partial class CpuBackend
{
    // The CPU reference works on one (batch, head) pair at a time: it copies that head's Q, K, V out of the fused
    // projection into contiguous scratch (K and V also transposed), so every inner loop is a SIMD axpy over a
    // whole row, and materialises the T×T scores. (b, h) pairs run in parallel in fixed blocks and write disjoint
    // slices of the outputs, so no reduction crosses threads and the result does not depend on scheduling.

    public void AttentionForward(Tensor qkv, Tensor keyMask, int heads, float scale, float dropout, ulong seed, ulong offset, Tensor output, Tensor lse)
    {
        var (b, t, h, hs) = AttentionDims(qkv, heads);
        float* pq = P(qkv), po = P(output), pl = P(lse);
        int* pm = PI(keyMask);
        float keep = 1f / (1f - dropout);
        ParallelRows(b * heads, (long)t * t * hs, (first, end) =>
        {
            var scratch = ArrayPool<float>.Shared.Rent(2 * t * hs + t * hs + t * t + t);
            var bits = ArrayPool<uint>.Shared.Rent(t);
            fixed (float* ps = scratch)
            {
                float* q = ps, kt = q + t * hs, v = kt + t * hs, s = v + t * hs, o = s + t * t; // kt [HS, T]
                for (int bh = first; bh < end; bh++)
                {
                    int bi = bh / heads, hi = bh % heads;
                    LoadHead(pq, bi, hi, t, h, hs, q, kt, v);
                    Scores(q, kt, t, hs, s);
                    for (int i = 0; i < t; i++)
                    {
                        float* si = s + i * t;
                        float max = float.NegativeInfinity;
                        for (int j = 0; j < t; j++)
                        {
                            if (pm[bi * t + j] == 0) { si[j] = float.NegativeInfinity; continue; }
                            si[j] *= scale;
                            if (si[j] > max) max = si[j];
                        }
                        float* oi = po + (long)(bi * t + i) * h + hi * hs;
                        new Span<float>(oi, hs).Clear();
                        if (float.IsNegativeInfinity(max)) { pl[(long)bh * t + i] = float.NegativeInfinity; continue; }
                        var row = new Span<float>(si, t);
                        TensorPrimitives.Subtract(row, max, row);
                        TensorPrimitives.Exp(row, row);
                        double sum = TensorPrimitives.Sum(row);
                        pl[(long)bh * t + i] = max + (float)Math.Log(sum);
                        if (dropout > 0f) Philox.Fill(seed, offset, ((ulong)bh * (ulong)t + (ulong)i) * (ulong)t, bits.AsSpan(0, t));
                        float inv = (float)(1.0 / sum);
                        for (int j = 0; j < t; j++)
                        {
                            float w = si[j] * inv;
                            if (dropout > 0f) w = Philox.Uniform(bits[j]) >= dropout ? w * keep : 0f;
                            if (w != 0f) Axpy(w, v + j * hs, oi, hs);
                        }
                    }
                }
            }
            ArrayPool<float>.Shared.Return(scratch);
            ArrayPool<uint>.Shared.Return(bits);
        });
    }

    public void AttentionBackward(Tensor dOutput, Tensor qkv, Tensor keyMask, Tensor output, Tensor lse, int heads, float scale, float dropout, ulong seed, ulong offset, Tensor dQkv)
    {
        var (b, t, h, hs) = AttentionDims(qkv, heads);
        float* pq = P(qkv), pdo = P(dOutput), po = P(output), pl = P(lse), pd = P(dQkv);
        int* pm = PI(keyMask);
        float keep = 1f / (1f - dropout);
        ParallelRows(b * heads, 3L * t * t * hs, (first, end) =>
        {
            var scratch = ArrayPool<float>.Shared.Rent(8 * t * hs + 2 * t * t);
            var bits = ArrayPool<uint>.Shared.Rent(t);
            fixed (float* ps = scratch)
            {
                float* q = ps, kt = q + t * hs, v = kt + t * hs, k = v + t * hs, vt = k + t * hs; // kt, vt [HS, T]
                float* dq = vt + t * hs, dkv = dq + t * hs, s = dkv + 2 * t * hs, dp = s + t * t; // dkv: dK then dV
                for (int bh = first; bh < end; bh++)
                {
                    int bi = bh / heads, hi = bh % heads;
                    LoadHead(pq, bi, hi, t, h, hs, q, kt, v);
                    Transpose(kt, hs, t, k);
                    Transpose(v, t, hs, vt);
                    Scores(q, kt, t, hs, s);                    // q·k
                    for (int i = 0; i < t; i++)                  // dO·v
                        RowTimes(pdo + (long)(bi * t + i) * h + hi * hs, vt, t, hs, dp + i * t);
                    new Span<float>(dq, t * hs).Clear();
                    new Span<float>(dkv, 2 * t * hs).Clear();
                    float* dk = dkv, dv = dkv + t * hs;
                    for (int i = 0; i < t; i++)
                    {
                        float l = pl[(long)bh * t + i];
                        if (float.IsNegativeInfinity(l)) continue;
                        float* dO = pdo + (long)(bi * t + i) * h + hi * hs;
                        var o = new ReadOnlySpan<float>(po + (long)(bi * t + i) * h + hi * hs, hs);
                        float dRow = TensorPrimitives.Dot(new ReadOnlySpan<float>(dO, hs), o); // D_i = dO_i·O_i, dropout included
                        if (dropout > 0f) Philox.Fill(seed, offset, ((ulong)bh * (ulong)t + (ulong)i) * (ulong)t, bits.AsSpan(0, t));
                        float* si = s + i * t, dpi = dp + i * t;
                        for (int j = 0; j < t; j++)
                        {
                            if (pm[bi * t + j] == 0) continue;
                            float prob = MathF.Exp(scale * si[j] - l);
                            float mask = dropout > 0f ? (Philox.Uniform(bits[j]) >= dropout ? keep : 0f) : 1f;
                            // dV_j += P̃_ij·dO_i (P̃ the dropped probabilities); dP_ij = mask·(dO_i·V_j).
                            float pDropped = prob * mask;
                            if (pDropped != 0f) Axpy(pDropped, dO, dv + j * hs, hs);
                            float dP = mask == 0f ? 0f : mask * dpi[j];
                            float dS = prob * (dP - dRow) * scale;
                            if (dS == 0f) continue;
                            Axpy(dS, k + j * hs, dq + i * hs, hs);
                            Axpy(dS, q + i * hs, dk + j * hs, hs);
                        }
                    }
                    for (int i = 0; i < t; i++)
                    {
                        float* row = pd + (long)(bi * t + i) * 3 * h + hi * hs;
                        new ReadOnlySpan<float>(dq + i * hs, hs).CopyTo(new Span<float>(row, hs));
                        new ReadOnlySpan<float>(dk + i * hs, hs).CopyTo(new Span<float>(row + h, hs));
                        new ReadOnlySpan<float>(dv + i * hs, hs).CopyTo(new Span<float>(row + 2 * h, hs));
                    }
                }
            }
            ArrayPool<float>.Shared.Return(scratch);
            ArrayPool<uint>.Shared.Return(bits);
        });
    }

    /// <summary>Copies head (bi, hi) out of qkv [B, T, 3, NH, HS]: q and v as [T, HS], k transposed as [HS, T].</summary>
    private static void LoadHead(float* pq, int bi, int hi, int t, int h, int hs, float* q, float* kt, float* v)
    {
        for (int i = 0; i < t; i++)
        {
            float* row = pq + (long)(bi * t + i) * 3 * h + hi * hs;
            new ReadOnlySpan<float>(row, hs).CopyTo(new Span<float>(q + i * hs, hs));
            new ReadOnlySpan<float>(row + 2 * h, hs).CopyTo(new Span<float>(v + i * hs, hs));
            for (int d = 0; d < hs; d++) kt[d * t + i] = row[h + d];
        }
    }

    private static void Transpose(float* src, int rows, int cols, float* dst)
    {
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++) dst[c * rows + r] = src[r * cols + c];
    }

    /// <summary>s[i, :] = q_i · kᵀ for every row i: q [T, HS], kt [HS, T], s [T, T].</summary>
    private static void Scores(float* q, float* kt, int t, int hs, float* s)
    {
        for (int i = 0; i < t; i++) RowTimes(q + i * hs, kt, t, hs, s + i * t);
    }

    /// <summary>out[:] = Σ_d a[d]·mt[d, :], mt [HS, T]: one row of a product, as axpys over whole rows.</summary>
    private static void RowTimes(float* a, float* mt, int t, int hs, float* output)
    {
        new Span<float>(output, t).Clear();
        for (int d = 0; d < hs; d++) Axpy(a[d], mt + d * t, output, t);
    }

    /// <summary>y += a·x over n floats (separate multiply and add, as TensorPrimitives.MultiplyAdd).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Axpy(float a, float* x, float* y, int n)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var va = Vector512.Create(a);
            for (; i + 16 <= n; i += 16) Vector512.Store(Vector512.Load(x + i) * va + Vector512.Load(y + i), y + i);
        }
        for (; i < n; i++) y[i] = x[i] * a + y[i];
    }

    private static (int b, int t, int h, int hs) AttentionDims(Tensor qkv, int heads)
    {
        if (qkv.Rank != 3 || qkv.Shape[2] % (3 * heads) != 0)
            throw new ArgumentException($"Attention: qkv must be [B, T, 3·NH·HS], got {qkv.Shape} for {heads} heads");
        int h = qkv.Shape[2] / 3;
        return (qkv.Shape[0], qkv.Shape[1], h, h / heads);
    }
}
