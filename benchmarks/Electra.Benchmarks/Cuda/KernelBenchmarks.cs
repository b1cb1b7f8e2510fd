using Electra.Cuda;

namespace Electra.Benchmarks.Cuda;

/// <summary>
/// The hand-written kernels of kernels-cu/ at ELECTRA-Small shapes, with the bytes and FLOPs of kernels-cu/README.md,
/// each next to its baseline: attention against the cuBLAS sequence (<see cref="AttentionBaseline"/>), the
/// memory-bound kernels against their unfused sequences (<see cref="UnfusedBaselines"/>). The comparisons go to
/// the report's second table.
/// </summary>
internal static class KernelBenchmarks
{
    public static void Run(CudaBench.Harness h, bool quick)
    {
        foreach (int bnh in quick ? new[] { 512 } : new[] { 512, 2048 })
            foreach (int t in new[] { 128, 512 })
                Attention(h, bnh, t);
        LayerNorm(h);
        SoftmaxCrossEntropyAndGumbel(h, quick);
    }

    private static void Attention(CudaBench.Harness h, int bnh, int t)
    {
        var be = h.Backend;
        const int nh = 4, hs = 64, hidden = nh * hs;
        int b = bnh / nh;
        float scale = 1f / MathF.Sqrt(hs);
        double fwdFlops = AttentionBaseline.ForwardFlops(bnh, t, hs), bwdFused = 14.0 * bnh * t * t * hs;
        string shape = $"B·NH={bnh} T={t} HS={hs}";
        using var mask = Tensor.Full([b, t], 1f, DType.I32, be.Device);
        using var qkv32 = h.Random(40, 1f, b, t, 3 * hidden);
        using var dOut32 = h.Random(41, 1f, b, t, hidden);

        foreach (var dtype in new[] { DType.F32, DType.BF16 })
        {
            string d = dtype == DType.F32 ? "f32" : "bf16";
            using var qkv = Tensor.Empty([b, t, 3 * hidden], dtype, be.Device);
            using var dOut = Tensor.Empty([b, t, hidden], dtype, be.Device);
            be.Copy(qkv32, qkv);
            be.Copy(dOut32, dOut);
            using var output = Tensor.Empty([b, t, hidden], dtype, be.Device);
            using var lse = Tensor.Empty([b, nh, t], DType.F32, be.Device);
            using var dQkv = Tensor.Empty([b, t, 3 * hidden], dtype, be.Device);
            double io = (double)b * t * hidden * dtype.Size();
            string fused = dtype == DType.F32 ? "f32" : "bf16 mma";

            foreach (float p in new[] { 0f, 0.1f })
            {
                string tag = p == 0 ? " p=0" : $" p={p}";
                h.Time($"attention fwd {fused}{tag}", shape, 4 * io, fwdFlops, () => be.AttentionForward(qkv, mask, nh, scale, p, 1, 0, output, lse));
                be.AttentionForward(qkv, mask, nh, scale, p, 1, 0, output, lse);
                h.Time($"attention bwd {fused}{tag}", shape, 7 * io, bwdFused, () => be.AttentionBackward(dOut, qkv, mask, output, lse, nh, scale, p, 1, 0, dQkv));
            }
            if (dtype == DType.BF16)
            {
                // The same function on the FFMA kernels of attention.cu: what the tensor cores buy.
                be.UseTensorCoreAttention = false;
                try
                {
                    h.Time("attention fwd bf16 ffma p=0", shape, 4 * io, fwdFlops, () => be.AttentionForward(qkv, mask, nh, scale, 0f, 1, 0, output, lse));
                    be.AttentionForward(qkv, mask, nh, scale, 0f, 1, 0, output, lse);
                    h.Time("attention bwd bf16 ffma p=0", shape, 7 * io, bwdFused, () => be.AttentionBackward(dOut, qkv, mask, output, lse, nh, scale, 0f, 1, 0, dQkv));
                }
                finally
                {
                    be.UseTensorCoreAttention = true;
                }
            }

            using (var baseline = new AttentionBaseline(be, b, t, nh, hs, dtype))
            {
                // Bytes as the fused kernel's (the work), FLOPs the GEMMs' own: 4·T²·HS forward, 10·T²·HS backward.
                h.Time($"attention fwd {d} cuBLAS", shape, 4 * io, fwdFlops, () => baseline.Forward(qkv, mask, scale, output));
                baseline.Forward(qkv, mask, scale, output);
                h.Time($"attention bwd {d} cuBLAS", shape, 7 * io, AttentionBaseline.BackwardFlops(bnh, t, hs), () => baseline.Backward(dOut, qkv, scale, dQkv));
            }

            h.Compare($"attention fwd {fused} vs cuBLAS", shape, [$"attention fwd {fused} p=0"], [$"attention fwd {d} cuBLAS"]);
            h.Compare($"attention bwd {fused} vs cuBLAS", shape, [$"attention bwd {fused} p=0"], [$"attention bwd {d} cuBLAS"]);
            h.Compare($"attention fwd+bwd {fused} vs cuBLAS", shape, [$"attention fwd {fused} p=0", $"attention bwd {fused} p=0"], [$"attention fwd {d} cuBLAS", $"attention bwd {d} cuBLAS"]);
            if (dtype == DType.BF16)
                h.Compare("attention fwd+bwd bf16 mma vs ffma", shape, ["attention fwd bf16 mma p=0", "attention bwd bf16 mma p=0"], ["attention fwd bf16 ffma p=0", "attention bwd bf16 ffma p=0"]);
        }
    }

    private static void LayerNorm(CudaBench.Harness h)
    {
        var be = h.Backend;
        const int rows = 128 * 128, c = 256;
        string shape = $"[{rows},{c}]";
        double e = (double)rows * c;
        int partials = UnfusedBaselines.PartialRows(rows);
        using var x = h.Random(50, 1f, rows, c);
        using var r = h.Random(51, 1f, rows, c);
        using var gamma = h.Random(52, 1f, c);
        using var beta = h.Random(53, 1f, c);
        using var y = Tensor.Empty([rows, c], DType.F32, be.Device);
        using var s = Tensor.Empty([rows, c], DType.F32, be.Device);
        using var mean = Tensor.Empty([rows], DType.F32, be.Device);
        using var rstd = Tensor.Empty([rows], DType.F32, be.Device);
        using var dS = Tensor.Empty([rows, c], DType.F32, be.Device);
        using var dG = Tensor.Empty([c], DType.F32, be.Device);
        using var dB = Tensor.Empty([c], DType.F32, be.Device);
        using var rowA = Tensor.Empty([rows], DType.F32, be.Device);
        using var rowB = Tensor.Empty([rows], DType.F32, be.Device);
        using var pG = Tensor.Empty([partials, c], DType.F32, be.Device);
        using var pB = Tensor.Empty([partials, c], DType.F32, be.Device);

        h.Time("layernorm+residual fwd", shape, 16 * e, 10 * e, () => be.LayerNormForward(x, r, gamma, beta, 1e-12f, y, mean, rstd, s));
        h.Time("layernorm+residual fwd unfused", shape, 16 * e, 10 * e, () => UnfusedBaselines.LayerNormForward(be, x, r, gamma, beta, 1e-12f, y, mean, rstd, s));
        h.Time("layernorm bwd", shape, 12 * e, 12 * e, () => be.LayerNormBackward(x, s, gamma, mean, rstd, dS, dG, dB));
        h.Time("layernorm bwd unfused", shape, 12 * e, 12 * e, () => UnfusedBaselines.LayerNormBackward(be, x, s, gamma, mean, rstd, dS, dG, dB, rowA, rowB, pG, pB));
        h.Compare("layernorm+residual fwd vs unfused", shape, ["layernorm+residual fwd"], ["layernorm+residual fwd unfused"]);
        h.Compare("layernorm bwd vs unfused", shape, ["layernorm bwd"], ["layernorm bwd unfused"]);
    }

    private static void SoftmaxCrossEntropyAndGumbel(CudaBench.Harness h, bool quick)
    {
        var be = h.Backend;
        const int m = 19 * 128, v = 30522;
        double e = (double)m * v;
        using var targets = h.RandomInts(61, v, m);
        using var losses = Tensor.Empty([m], DType.F32, be.Device);
        using var dLogits = Tensor.Empty([m, v], DType.F32, be.Device);
        using var scores = Tensor.Empty([m, v], DType.F32, be.Device);
        using var samples = Tensor.Empty([m], DType.I32, be.Device);
        using var rowMax = Tensor.Empty([m], DType.F32, be.Device);
        using var rowSum = Tensor.Empty([m], DType.F32, be.Device);
        // Flat logits (an untrained generator: every column's noise is drawn) and peaked ones (a trained one: the
        // pruning of softmax_cross_entropy.cu / gumbel.cu skips nearly all of it).
        foreach (bool peaked in quick ? new[] { false } : new[] { false, true })
        {
            using var logits = peaked ? h.PeakedLogits(62, m, v) : h.Random(60, 4f, m, v);
            string shape = peaked ? $"[{m},{v}] peaked" : $"[{m},{v}]";
            h.Time("softmax-CE + grad + gumbel", shape, 8 * e, 0, () => be.SoftmaxCrossEntropy(logits, targets, -100, losses, dLogits, 1f / m, samples, 1f, 7, 0));
            h.Time("softmax-CE + grad + gumbel unfused", shape, 8 * e, 0,
                () => UnfusedBaselines.SoftmaxCrossEntropy(be, logits, targets, losses, dLogits, 1f / m, rowMax, rowSum, samples, scores, 1f, 7, 0));
            h.Time("gumbel sample", shape, 4 * e, 0, () => be.GumbelSample(logits, 1f, 7, 0, null, samples));
            h.Time("gumbel sample unfused", shape, 4 * e, 0, () => UnfusedBaselines.GumbelSample(be, logits, 1f, 7, 0, scores, samples));
            h.Compare("softmax-CE + grad + gumbel vs unfused", shape, ["softmax-CE + grad + gumbel"], ["softmax-CE + grad + gumbel unfused"]);
            h.Compare("gumbel sample vs unfused", shape, ["gumbel sample"], ["gumbel sample unfused"]);
            if (peaked) continue;
            h.Time("softmax-CE + grad", shape, 8 * e, 0, () => be.SoftmaxCrossEntropy(logits, targets, -100, losses, dLogits, 1f / m, null, 1f, 7, 0));
            h.Time("softmax-CE + grad unfused", shape, 8 * e, 0,
                () => UnfusedBaselines.SoftmaxCrossEntropy(be, logits, targets, losses, dLogits, 1f / m, rowMax, rowSum, null, null, 1f, 7, 0));
            h.Compare("softmax-CE + grad vs unfused", shape, ["softmax-CE + grad"], ["softmax-CE + grad unfused"]);
        }
    }
}
