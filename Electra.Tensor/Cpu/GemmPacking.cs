using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Electra.Cpu;

/// <summary>
/// Copies slices of op(A) and op(B) into the layouts the micro-kernel streams:
/// A block [mc, kc] → panels of MR rows, each [kc][MR] (the MR values of one k step side by side);
/// B block [kc, nc] → panels of NR columns, each [kc][NR]. Missing rows/columns of an edge panel are zeros, so the
/// kernel always computes a whole tile and the caller keeps only the valid part.
/// Packing reads each source element once per block; the two strided cases (A as stored, Bᵀ) gather one row of
/// the source at a time so the reads stay sequential and only the writes jump, within an L1-resident panel.
/// </summary>
internal static unsafe class GemmPacking
{
    public static void PackA(in Operands op, int ic, int mc, int pc, int kc, float* dst)
    {
        int mr = op.MR;
        long lda = op.Lda;
        for (int s = 0; s < mc; s += mr, dst += (long)kc * mr)
        {
            int rows = Math.Min(mr, mc - s);
            if (op.TransA)
            {
                // A stored [K, M]: the MR values of one k step are adjacent in memory.
                float* src = op.A + (long)pc * lda + ic + s;
                if (rows == mr) CopyRows(src, lda, dst, kc, mr);
                else CopyRowsPadded(src, lda, dst, kc, rows, mr);
            }
            else
            {
                float* src = op.A + (ic + s) * lda + pc;
                if (rows == mr) TransposeFast(src, lda, dst, kc, mr);
                else Transpose(src, lda, dst, kc, rows, mr);
            }
        }
    }

    public static void PackB(in Operands op, int pc, int kc, int jc, int nc, float* dst)
    {
        int nr = op.NR;
        long ldb = op.Ldb;
        for (int q = 0; q < nc; q += nr, dst += (long)kc * nr)
        {
            int cols = Math.Min(nr, nc - q);
            if (op.TransB)
            {
                // Bᵀ stored [N, K]: row j of storage is column j of op(B).
                float* src = op.B + (jc + q) * ldb + pc;
                if (cols == nr) TransposeFast(src, ldb, dst, kc, nr);
                else Transpose(src, ldb, dst, kc, cols, nr);
            }
            else
            {
                float* src = op.B + pc * ldb + jc + q;
                if (cols == nr) CopyRows(src, ldb, dst, kc, nr);
                else CopyRowsPadded(src, ldb, dst, kc, cols, nr);
            }
        }
    }

    /// <summary>dst[p, 0..width) = src[p·ld + 0..width) for p &lt; count.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void CopyRows(float* src, long ld, float* dst, int count, int width)
    {
        switch (width)
        {
            case 32 when Vector512.IsHardwareAccelerated:
                for (int p = 0; p < count; p++, src += ld, dst += 32)
                {
                    Vector512.Store(Vector512.Load(src), dst);
                    Vector512.Store(Vector512.Load(src + 16), dst + 16);
                }
                break;
            case 12 when Vector256.IsHardwareAccelerated:
                for (int p = 0; p < count; p++, src += ld, dst += 12)
                {
                    Vector256.Store(Vector256.Load(src), dst);
                    Vector128.Store(Vector128.Load(src + 8), dst + 8);
                }
                break;
            case 16 when Vector256.IsHardwareAccelerated:
                for (int p = 0; p < count; p++, src += ld, dst += 16)
                {
                    Vector256.Store(Vector256.Load(src), dst);
                    Vector256.Store(Vector256.Load(src + 8), dst + 8);
                }
                break;
            default:
                for (int p = 0; p < count; p++, src += ld, dst += width)
                    new ReadOnlySpan<float>(src, width).CopyTo(new Span<float>(dst, width));
                break;
        }
    }

    private static void CopyRowsPadded(float* src, long ld, float* dst, int count, int valid, int width)
    {
        for (int p = 0; p < count; p++, src += ld, dst += width)
        {
            new ReadOnlySpan<float>(src, valid).CopyTo(new Span<float>(dst, valid));
            new Span<float>(dst + valid, width - valid).Clear();
        }
    }

    /// <summary>dst[p·width + r] = src[r·ld + p] for r &lt; valid (zeros for valid ≤ r &lt; width), p &lt; count.</summary>
    private static void Transpose(float* src, long ld, float* dst, int count, int valid, int width)
    {
        for (int r = 0; r < valid; r++)
        {
            float* s = src + r * ld;
            float* d = dst + r;
            for (int p = 0; p < count; p++) d[(long)p * width] = s[p];
        }
        for (int r = valid; r < width; r++)
        {
            float* d = dst + r;
            for (int p = 0; p < count; p++) d[(long)p * width] = 0f;
        }
    }

    /// <summary>
    /// <see cref="Transpose"/> for whole panels, 8 k steps at a time with AVX 8×8 transposes: a width that is a
    /// multiple of 8 (B panels of 32 or 16) goes in groups of 8 rows; width 12 (A panels) is 8 rows + 4 rows.
    /// </summary>
    private static void TransposeFast(float* src, long ld, float* dst, int count, int width)
    {
        int p = 0;
        if (Avx.IsSupported && (width % 8 == 0 || width == 12))
        {
            for (; p + 8 <= count; p += 8, src += 8, dst += 8 * width)
            {
                int g = 0;
                for (; g + 8 <= width; g += 8)
                {
                    float* s = src + g * ld;
                    Transpose8x8(Avx.LoadVector256(s), Avx.LoadVector256(s + ld), Avx.LoadVector256(s + 2 * ld), Avx.LoadVector256(s + 3 * ld),
                        Avx.LoadVector256(s + 4 * ld), Avx.LoadVector256(s + 5 * ld), Avx.LoadVector256(s + 6 * ld), Avx.LoadVector256(s + 7 * ld),
                        dst + g, width);
                }
                if (g < width)
                {
                    float* s = src + g * ld;
                    Transpose4x8(Avx.LoadVector256(s), Avx.LoadVector256(s + ld), Avx.LoadVector256(s + 2 * ld), Avx.LoadVector256(s + 3 * ld),
                        dst + g, width);
                }
            }
        }
        if (p < count) Transpose(src, ld, dst, count - p, width, width);
    }

    // Rows a..h, 8 values each; writes column j (a_j..h_j) to dst + j·stride. Interleave pairs of rows, then pairs
    // of pairs, then exchange 128-bit halves.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose8x8(Vector256<float> a, Vector256<float> b, Vector256<float> c, Vector256<float> d,
        Vector256<float> e, Vector256<float> f, Vector256<float> g, Vector256<float> h, float* dst, int stride)
    {
        var ab0 = Avx.UnpackLow(a, b);   // a0 b0 a1 b1 | a4 b4 a5 b5
        var ab1 = Avx.UnpackHigh(a, b);  // a2 b2 a3 b3 | a6 b6 a7 b7
        var cd0 = Avx.UnpackLow(c, d);
        var cd1 = Avx.UnpackHigh(c, d);
        var ef0 = Avx.UnpackLow(e, f);
        var ef1 = Avx.UnpackHigh(e, f);
        var gh0 = Avx.UnpackLow(g, h);
        var gh1 = Avx.UnpackHigh(g, h);
        var q0 = Avx.Shuffle(ab0, cd0, 0x44); // a0 b0 c0 d0 | a4 b4 c4 d4
        var q1 = Avx.Shuffle(ab0, cd0, 0xEE); // a1 b1 c1 d1 | a5 b5 c5 d5
        var q2 = Avx.Shuffle(ab1, cd1, 0x44);
        var q3 = Avx.Shuffle(ab1, cd1, 0xEE);
        var q4 = Avx.Shuffle(ef0, gh0, 0x44);
        var q5 = Avx.Shuffle(ef0, gh0, 0xEE);
        var q6 = Avx.Shuffle(ef1, gh1, 0x44);
        var q7 = Avx.Shuffle(ef1, gh1, 0xEE);
        Avx.Store(dst, Avx.Permute2x128(q0, q4, 0x20));
        Avx.Store(dst + stride, Avx.Permute2x128(q1, q5, 0x20));
        Avx.Store(dst + 2 * stride, Avx.Permute2x128(q2, q6, 0x20));
        Avx.Store(dst + 3 * stride, Avx.Permute2x128(q3, q7, 0x20));
        Avx.Store(dst + 4 * stride, Avx.Permute2x128(q0, q4, 0x31));
        Avx.Store(dst + 5 * stride, Avx.Permute2x128(q1, q5, 0x31));
        Avx.Store(dst + 6 * stride, Avx.Permute2x128(q2, q6, 0x31));
        Avx.Store(dst + 7 * stride, Avx.Permute2x128(q3, q7, 0x31));
    }

    // Rows a..d, 8 values each; writes column j (a_j..d_j, 4 floats) to dst + j·stride.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose4x8(Vector256<float> a, Vector256<float> b, Vector256<float> c, Vector256<float> d, float* dst, int stride)
    {
        var ab0 = Avx.UnpackLow(a, b);
        var ab1 = Avx.UnpackHigh(a, b);
        var cd0 = Avx.UnpackLow(c, d);
        var cd1 = Avx.UnpackHigh(c, d);
        var q0 = Avx.Shuffle(ab0, cd0, 0x44); // columns 0 | 4
        var q1 = Avx.Shuffle(ab0, cd0, 0xEE); // columns 1 | 5
        var q2 = Avx.Shuffle(ab1, cd1, 0x44); // columns 2 | 6
        var q3 = Avx.Shuffle(ab1, cd1, 0xEE); // columns 3 | 7
        Sse.Store(dst, q0.GetLower());
        Sse.Store(dst + stride, q1.GetLower());
        Sse.Store(dst + 2 * stride, q2.GetLower());
        Sse.Store(dst + 3 * stride, q3.GetLower());
        Sse.Store(dst + 4 * stride, q0.GetUpper());
        Sse.Store(dst + 5 * stride, q1.GetUpper());
        Sse.Store(dst + 6 * stride, q2.GetUpper());
        Sse.Store(dst + 7 * stride, q3.GetUpper());
    }
}
