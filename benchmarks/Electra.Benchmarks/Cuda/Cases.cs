namespace Electra.Benchmarks.Cuda;

/// <summary>The cases of <see cref="CudaBench"/>: device ceilings first, then each primitive at model shapes.</summary>
internal static class Cases
{
    // ELECTRA-Small discriminator, batch 128 × 128 tokens.
    private const int B = 128, T = 128, H = 256, E = 128, I = 1024, V = 30522, NH = 4, Masked = 19 * 128;
    private const int R = B * T;

    public static void Ceilings(CudaBench.Harness h, bool quick)
    {
        var be = h.Backend;
        int n = quick ? 1 << 24 : 1 << 26; // 64 Mi floats = 256 MiB each way
        using (var src = h.Rotate(h.Random(1, 1f, n)))
        using (var dst = Tensor.Empty([n], DType.F32, be.Device))
            h.Time("copy d2d", $"{n * 4L >> 20} MiB", 2.0 * n * 4, 0, src, c => be.Copy(c[0], dst));

        // Compute-bound: 2·s³ FLOPs on 3·s² values, so where the operands sit does not matter; not rotated.
        int s = quick ? 2048 : 4096;
        using (var a = h.Random(2, 1f, s, s))
        using (var b = h.Random(3, 1f, s, s))
        using (var c = Tensor.Empty([s, s], DType.F32, be.Device))
        {
            h.Time("gemm f32 (tf32)", $"{s}³", 3.0 * s * s * 4, 2.0 * s * s * s, () => be.Gemm(a, false, b, false, c));
            be.AllowTf32 = false;
            h.Time("gemm f32 (no tf32)", $"{s}³", 3.0 * s * s * 4, 2.0 * s * s * s, () => be.Gemm(a, false, b, false, c));
            be.AllowTf32 = true;
        }
        using (var a = h.RandomBf16(4, s, s))
        using (var b = h.RandomBf16(5, s, s))
        using (var c = Tensor.Empty([s, s], DType.F32, be.Device))
            h.Time("gemm bf16→f32", $"{s}³", s * s * (2.0 + 2 + 4), 2.0 * s * s * s, () => be.Gemm(a, false, b, false, c));
    }

    public static void Primitives(CudaBench.Harness h, bool quick)
    {
        var be = h.Backend;
        // The activations the cases read ([R, H] is 16 MiB, [R, I] 64 MiB: within reach of a 50 MiB L2) rotate;
        // weights and biases (≤ 1 MiB) would be warm in a real step too.
        using var acts = h.Rotate(h.Random(10, 1f, R, H), h.Random(13, 1f, R, I));
        using var y = Tensor.Empty([R, H], DType.F32, be.Device);
        using var wqkv = h.Random(11, 0.05f, H, 3 * H);
        using var qkv = Tensor.Empty([R, 3 * H], DType.F32, be.Device);
        using var w1 = h.Random(12, 0.05f, H, I);
        using var ffOut = Tensor.Empty([R, I], DType.F32, be.Device);
        using var bias = h.Random(14, 0.1f, I);
        double fx = (double)R * H * 4, ffb = (double)R * I * 4;

        h.Time("gemm qkv", $"[{R},{H}]·[{H},{3 * H}]", (R * H + H * 3 * H + R * 3 * H) * 4.0, 2.0 * R * H * 3 * H, acts, a => be.Gemm(a[0], false, wqkv, false, qkv));
        h.Time("gemm ffn up", $"[{R},{H}]·[{H},{I}]", (R * H + H * I + R * I) * 4.0, 2.0 * R * H * I, acts, a => be.Gemm(a[0], false, w1, false, ffOut));
        h.Time("gemm ffn dW (AᵀB)", $"[{R},{H}]ᵀ·[{R},{I}]", (R * H + R * I + H * I) * 4.0, 2.0 * R * H * I, acts, a => be.Gemm(a[0], true, a[1], false, w1));
        using (var heads = h.Rotate(h.Random(16, 1f, B * NH, T, 64)))
        using (var hs = Tensor.Empty([B * NH, T, T], DType.F32, be.Device))
            h.Time("gemm batched QKᵀ", $"{B * NH}×[{T},64]·[64,{T}]ᵀ", (2.0 * B * NH * T * 64 + B * NH * T * T) * 4, 2.0 * B * NH * T * T * 64, heads, q => be.Gemm(q[0], false, q[0], true, hs));

        h.Time("add", $"[{R},{H}]", 3 * fx, 0, acts, a => be.Add(a[0], a[0], y, 1f, 0.5f));
        h.Time("scale", $"[{R},{H}]", 2 * fx, 0, acts, a => be.Scale(a[0], 0.5f, y));
        h.Time("add bias", $"[{R},{I}]", 2 * ffb, 0, acts, a => be.AddBias(a[1], bias, ffOut));
        h.Time("bias+gelu fwd", $"[{R},{I}]", 2 * ffb, 0, acts, a => be.BiasGeluForward(a[1], bias, ffOut));
        using (var dBias = Tensor.Empty([I], DType.F32, be.Device))
        {
            h.Time("bias+gelu bwd", $"[{R},{I}]", 3 * ffb, 0, acts, a => be.BiasGeluBackward(a[1], a[1], bias, ffOut, dBias));
            h.Time("sum rows (dbias)", $"[{R},{I}]", ffb, 0, acts, a => be.SumRows(a[1], dBias, 0f));
        }
        h.Time("dropout", $"[{R},{H}]", 2 * fx, 0, acts, a => be.Dropout(a[0], 0.1f, 1, 2, y));
        using (var s = Tensor.Empty([1], DType.F32, be.Device))
            h.Time("sum", $"[{R},{H}]", fx, 0, acts, a => be.Sum(a[0], s, 1f));
        using (var ids = h.RandomInts(17, V, R))
        using (var emb = Tensor.Empty([R, E], DType.F32, be.Device))
        using (var tables = h.Rotate(h.Random(25, 1f, R, E), h.Random(18, 0.02f, V, E))) // (gradient, table)
        {
            h.Time("embedding fwd", $"V={V} [{R},{E}]", 2.0 * R * E * 4, 0, tables, g => be.EmbeddingForward(g[1], ids, emb));
            h.Time("embedding bwd", $"V={V} [{R},{E}]", 3.0 * R * E * 4, 0, tables, g => be.EmbeddingBackward(g[0], ids, g[1]));
            using var types = h.RandomInts(19, 2, R);
            using var typeTable = h.Random(20, 0.02f, 2, E);
            h.Time("embedding bwd (2 rows)", $"V=2 [{R},{E}]", 2.0 * R * E * 4, 0, tables, g => be.EmbeddingBackward(g[0], types, typeTable));
        }
        // The fused embeddings of the bf16 step (embedding_sum.cu): three tables gathered and summed into bf16 rows;
        // the backward's two launches write all three F32 table gradients ([V, E] in full).
        using (var ids = h.RandomInts(26, V, B, T))
        using (var types = h.RandomInts(27, 2, B, T))
        using (var word = h.Random(28, 0.02f, V, E))
        using (var position = h.Random(29, 0.02f, 512, E))
        using (var typeTable = h.Random(30, 0.02f, 2, E))
        using (var sum = Tensor.Empty([R, E], DType.BF16, be.Device))
        using (var dSum = h.Rotate(h.RandomBf16(31, R, E)))
        using (var dWord = Tensor.Empty([V, E], DType.F32, be.Device))
        using (var dPosition = Tensor.Empty([512, E], DType.F32, be.Device))
        using (var dType = Tensor.Empty([2, E], DType.F32, be.Device))
        {
            h.Time("embedding sum fwd (bf16)", $"V={V} [{R},{E}]", R * E * (4.0 + 2) + 2.0 * R * 4, 0,
                () => be.EmbeddingSumForward(word, position, typeTable, ids, types, sum));
            h.Time("embedding sum bwd (bf16)", $"V={V} [{R},{E}]", R * E * (2.0 * 2 + 2 * 4) + (double)V * E * 4, 0, dSum,
                g => be.EmbeddingSumBackward(g[0], ids, types, 0, dWord, dPosition, dType, accumulate: false));
        }
        using (var logits = h.Rotate(h.Random(21, 3f, Masked, V)))
        using (var am = Tensor.Empty([Masked], DType.I32, be.Device))
            h.Time("argmax", $"[{Masked},{V}]", (double)Masked * V * 4, 0, logits, l => be.Argmax(l[0], am));
        using (var bce = h.Rotate(h.Random(22, 3f, R), h.Random(23, 1f, R), h.Random(24, 1f, R)))
        using (var loss = Tensor.Empty([R], DType.F32, be.Device))
        using (var d = Tensor.Empty([R], DType.F32, be.Device))
        {
            h.Time("bce with logits", $"[{R}]", 5.0 * R * 4, 0, bce, c => be.BceWithLogits(c[0], c[1], c[2], loss, d, 1f));
        }

        // The optimizer over ELECTRA-Small's ~13.5 M parameters, as ~200 tensors of its real sizes: its 216 MB of
        // weights, gradients and moments already stream past L2 several times over, so they are not rotated.
        var sizes = new List<int> { V * E, 512 * E, 2 * E, E, E, E * H, H };
        for (int l = 0; l < 12; l++) sizes.AddRange([H * 3 * H, 3 * H, H * H, H, H, H, H * I, I, I * H, H, H, H]);
        sizes.AddRange([H * H, H, H, 1]);
        if (quick) sizes = sizes.Take(20).ToList();
        var owned = new List<Tensor>();
        var slots = new List<AdamWSlot>();
        for (int i = 0; i < sizes.Count; i++)
        {
            Tensor Make(float scale) { var t = h.Random(100 + i, scale, sizes[i]); owned.Add(t); return t; }
            slots.Add(new AdamWSlot(Make(0.02f), Make(0.001f), Make(0.0001f), Make(0.00001f), 0.01f));
        }
        foreach (var s in slots) be.Fill(s.V, 1e-6f); // a second moment must be ≥ 0
        long total = sizes.Sum(s => (long)s);
        var grads = slots.Select(s => s.Grad).ToArray();
        h.Time("adamw (all params)", $"{sizes.Count} tensors, {total / 1e6:0.0} M", total * 4.0 * 7, 0, () => be.AdamW(slots, 1e-4f, 0.9f, 0.999f, 1e-6f, 1, false));
        using (var norm = Tensor.Empty([1], DType.F32, be.Device))
        {
            h.Time("global norm", $"{total / 1e6:0.0} M", total * 4.0, 0, () => be.GlobalNorm(grads, norm));
            be.GlobalNorm(grads, norm);
            h.Time("clip by norm", $"{total / 1e6:0.0} M", total * 8.0, 0, () => be.ClipByNorm(grads, norm, 1e30f));
        }
        foreach (var t in owned) t.Dispose();
    }
}
