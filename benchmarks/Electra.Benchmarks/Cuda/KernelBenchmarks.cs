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
            var qkv0 = Tensor.Empty([b, t, 3 * hidden], dtype, be.Device);
            var dOut0 = Tensor.Empty([b, t, hidden], dtype, be.Device);
            be.Copy(qkv32, qkv0);
            be.Copy(dOut32, dOut0);
            // One copy: (qkv, dO, O, lse); each copy's forward writes the O and lse its backward reads.
            using var sets = h.Rotate(qkv0, dOut0, Tensor.Empty([b, t, hidden], dtype, be.Device), Tensor.Empty([b, nh, t], DType.F32, be.Device));
            using var dQkv = Tensor.Empty([b, t, 3 * hidden], dtype, be.Device);
            double io = (double)b * t * hidden * dtype.Size();
            string fused = dtype == DType.F32 ? "f32" : "bf16 mma";
            void Forward(Tensor[] c, float p) => be.AttentionForward(c[0], mask, nh, scale, p, 1, 0, c[2], c[3]);
            void Backward(Tensor[] c, float p) => be.AttentionBackward(c[1], c[0], mask, c[2], c[3], nh, scale, p, 1, 0, dQkv);
            void ForwardAll(float p) { for (int i = 0; i < sets.Count; i++) Forward(sets[i], p); }

            foreach (float p in new[] { 0f, 0.1f })
            {
                string tag = p == 0 ? " p=0" : $" p={p}";
                h.Time($"attention fwd {fused}{tag}", shape, 4 * io, fwdFlops, sets, c => Forward(c, p));
                ForwardAll(p);
                h.Time($"attention bwd {fused}{tag}", shape, 7 * io, bwdFused, sets, c => Backward(c, p));
            }
            if (dtype == DType.BF16)
            {
                // The same function on the FFMA kernels of attention.cu: what the tensor cores buy.
                be.UseTensorCoreAttention = false;
                try
                {
                    h.Time("attention fwd bf16 ffma p=0", shape, 4 * io, fwdFlops, sets, c => Forward(c, 0f));
                    ForwardAll(0f);
                    h.Time("attention bwd bf16 ffma p=0", shape, 7 * io, bwdFused, sets, c => Backward(c, 0f));
                }
                finally
                {
                    be.UseTensorCoreAttention = true;
                }
            }

            using (var baseline = new AttentionBaseline(be, b, t, nh, hs, dtype))
            {
                // Bytes as the fused kernel's (the work), FLOPs the GEMMs' own: 4·T²·HS forward, 10·T²·HS backward.
                // The baseline's backward reads the P its last forward kept; the copies hold equal values, so any
                // copy's P serves.
                h.Time($"attention fwd {d} cuBLAS", shape, 4 * io, fwdFlops, sets, c => baseline.Forward(c[0], mask, scale, c[2]));
                baseline.Forward(sets[0][0], mask, scale, sets[0][2]);
                h.Time($"attention bwd {d} cuBLAS", shape, 7 * io, AttentionBaseline.BackwardFlops(bnh, t, hs), sets, c => baseline.Backward(c[1], c[0], scale, dQkv));
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
        using var gamma = h.Random(52, 1f, c);
        using var beta = h.Random(53, 1f, c);
        // One copy: (x, residual, s, mean, rstd); the forward writes s, mean and rstd, which the backward reads
        // together with x standing in for dY.
        using var sets = h.Rotate(h.Random(50, 1f, rows, c), h.Random(51, 1f, rows, c), Tensor.Empty([rows, c], DType.F32, be.Device),
            Tensor.Empty([rows], DType.F32, be.Device), Tensor.Empty([rows], DType.F32, be.Device));
        using var y = Tensor.Empty([rows, c], DType.F32, be.Device);
        using var dS = Tensor.Empty([rows, c], DType.F32, be.Device);
        using var dG = Tensor.Empty([c], DType.F32, be.Device);
        using var dB = Tensor.Empty([c], DType.F32, be.Device);
        using var rowA = Tensor.Empty([rows], DType.F32, be.Device);
        using var rowB = Tensor.Empty([rows], DType.F32, be.Device);
        using var pG = Tensor.Empty([partials, c], DType.F32, be.Device);
        using var pB = Tensor.Empty([partials, c], DType.F32, be.Device);

        h.Time("layernorm+residual fwd", shape, 16 * e, 10 * e, sets, s => be.LayerNormForward(s[0], s[1], gamma, beta, 1e-12f, y, s[3], s[4], s[2]));
        h.Time("layernorm+residual fwd unfused", shape, 16 * e, 10 * e, sets, s => UnfusedBaselines.LayerNormForward(be, s[0], s[1], gamma, beta, 1e-12f, y, s[3], s[4], s[2]));
        for (int i = 0; i < sets.Count; i++) be.LayerNormForward(sets[i][0], sets[i][1], gamma, beta, 1e-12f, y, sets[i][3], sets[i][4], sets[i][2]);
        h.Time("layernorm bwd", shape, 12 * e, 12 * e, sets, s => be.LayerNormBackward(s[0], s[2], gamma, s[3], s[4], dS, dG, dB));
        h.Time("layernorm bwd unfused", shape, 12 * e, 12 * e, sets, s => UnfusedBaselines.LayerNormBackward(be, s[0], s[2], gamma, s[3], s[4], dS, dG, dB, rowA, rowB, pG, pB));
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
            // 297 MB of logits: twice a 50 MB L2 several times over, so the rotation keeps a single copy.
            using var logits = h.Rotate(peaked ? h.PeakedLogits(62, m, v) : h.Random(60, 4f, m, v));
            string shape = peaked ? $"[{m},{v}] peaked" : $"[{m},{v}]";
            h.Time("softmax-CE + grad + gumbel", shape, 8 * e, 0, logits, l => be.SoftmaxCrossEntropy(l[0], targets, -100, losses, dLogits, 1f / m, samples, 1f, 7, 0));
            h.Time("softmax-CE + grad + gumbel unfused", shape, 8 * e, 0, logits,
                l => UnfusedBaselines.SoftmaxCrossEntropy(be, l[0], targets, losses, dLogits, 1f / m, rowMax, rowSum, samples, scores, 1f, 7, 0));
            h.Time("gumbel sample", shape, 4 * e, 0, logits, l => be.GumbelSample(l[0], 1f, 7, 0, null, samples));
            h.Time("gumbel sample unfused", shape, 4 * e, 0, logits, l => UnfusedBaselines.GumbelSample(be, l[0], 1f, 7, 0, scores, samples));
            h.Compare("softmax-CE + grad + gumbel vs unfused", shape, ["softmax-CE + grad + gumbel"], ["softmax-CE + grad + gumbel unfused"]);
            h.Compare("gumbel sample vs unfused", shape, ["gumbel sample"], ["gumbel sample unfused"]);
            if (peaked) continue;
            h.Time("softmax-CE + grad", shape, 8 * e, 0, logits, l => be.SoftmaxCrossEntropy(l[0], targets, -100, losses, dLogits, 1f / m, null, 1f, 7, 0));
            h.Time("softmax-CE + grad unfused", shape, 8 * e, 0, logits,
                l => UnfusedBaselines.SoftmaxCrossEntropy(be, l[0], targets, losses, dLogits, 1f / m, rowMax, rowSum, null, null, 1f, 7, 0));
            h.Compare("softmax-CE + grad vs unfused", shape, ["softmax-CE + grad"], ["softmax-CE + grad unfused"]);
        }
    }
}
