namespace Electra.Cuda;

// Launch code for kernels-cu/attention.cu (F32 FFMA tiles, any dtype) and kernels-cu/attention_mma.cu (BF16 on
// tensor cores, HS 32 and 64): a flash-style forward and a two-kernel deterministic backward.
public sealed partial class CudaBackend
{
    private const string AttentionSource = "attention.cu";
    private const string AttentionMmaSource = "attention_mma.cu";
    private const int MmaRows = 64, MmaThreads = 128; // attention_mma.cu: rows per block (4 warps × 16), threads

    /// <summary>
    /// BF16 attention with HS 32 or 64 on tensor cores (attention_mma.cu); when false, or for other head sizes,
    /// the FFMA kernels of attention.cu. On by default; the benchmarks turn it off to compare the two.
    /// </summary>
    public bool UseTensorCoreAttention { get; set; } = true;

    private bool TensorCoreAttention(DType dtype, int hs) => UseTensorCoreAttention && dtype == DType.BF16 && (hs is 32 or 64);

    // attention.cu's tile rows per block: forward query tile, backward query tile, backward key tile.
    private static (int Forward, int BackwardQuery, int BackwardKey) AttentionTiles(int hs) => hs switch
    {
        32 => (64, 32, 64),
        64 => (64, 32, 32),
        128 => (32, 16, 16),
        _ => throw new ArgumentException($"Attention: head size {hs} is not supported by the CUDA kernels (32, 64 or 128)"),
    };

    public void AttentionForward(Tensor qkv, Tensor keyMask, int heads, float scale, float dropout, ulong seed, ulong offset, Tensor output, Tensor lse,
        Tensor? qkvBias = null)
    {
        Own("AttentionForward", qkv, keyMask, output, lse);
        var (b, t, hs, suffix) = AttentionChecks("AttentionForward", qkv, keyMask, heads, dropout);
        CheckQkvBias("AttentionForward", qkvBias, "qkvBias", heads * hs);
        if (output.DType != qkv.DType || output.Count != (long)b * t * heads * hs)
            throw new ArgumentException($"AttentionForward: output must be [{b}, {t}, {heads * hs}] {qkv.DType.Name()}, got {output.Shape} {output.DType.Name()}");
        if (lse.DType != DType.F32 || lse.Count != (long)b * heads * t)
            throw new ArgumentException($"AttentionForward: lse must be [{b}, {heads}, {t}] f32, got {lse.Shape} {lse.DType.Name()}");
        // Two T×T×HS products per head (QKᵀ and PV), 2 FLOPs per multiply-add.
        double flops = 4.0 * b * heads * t * t * hs;
        if (TensorCoreAttention(qkv.DType, hs))
        {
            K(AttentionMmaSource, $"attention_forward_mma_bf16_hs{hs}").Launch(LaunchCost.Of(flops, FlopRate.Bf16), ((uint)((t + MmaRows - 1) / MmaRows), (uint)(b * heads), 1), (MmaThreads, 1, 1), 0,
                qkv, qkvBias, keyMask, heads, t, scale, dropout, seed, offset, RngBase, output, lse);
            return;
        }
        int br = AttentionTiles(hs).Forward;
        K(AttentionSource, $"attention_forward_{suffix}_hs{hs}").Launch(LaunchCost.Of(flops, FlopRate.Fp32), ((uint)((t + br - 1) / br), (uint)(b * heads), 1), (256, 1, 1), 0,
            qkv, qkvBias, keyMask, heads, t, scale, dropout, seed, offset, RngBase, output, lse);
    }

    public void AttentionBackward(Tensor dOutput, Tensor qkv, Tensor keyMask, Tensor output, Tensor lse, int heads, float scale, float dropout, ulong seed, ulong offset, Tensor dQkv,
        Tensor? qkvBias = null, Tensor? dQkvBias = null)
    {
        Own("AttentionBackward", dOutput, qkv, keyMask, output, lse, dQkv);
        var (b, t, hs, suffix) = AttentionChecks("AttentionBackward", qkv, keyMask, heads, dropout);
        CheckQkvBias("AttentionBackward", qkvBias, "qkvBias", heads * hs);
        CheckQkvBias("AttentionBackward", dQkvBias, "dQkvBias", heads * hs);
        if (dQkvBias is not null && qkvBias is null)
            throw new ArgumentException("AttentionBackward: dQkvBias (the bias gradient) needs the qkvBias the forward added");
        if (dQkvBias is not null && heads > ColumnTickets)
            throw new ArgumentException($"AttentionBackward: {heads} heads is more than the {ColumnTickets} tickets the bias gradient uses");
        foreach (var (name, x) in new[] { ("dOutput", dOutput), ("output", output) })
            if (x.DType != qkv.DType || x.Count != (long)b * t * heads * hs)
                throw new ArgumentException($"AttentionBackward: {name} must be [{b}, {t}, {heads * hs}] {qkv.DType.Name()}, got {x.Shape} {x.DType.Name()}");
        if (lse.DType != DType.F32 || lse.Count != (long)b * heads * t)
            throw new ArgumentException($"AttentionBackward: lse must be [{b}, {heads}, {t}] f32, got {lse.Shape} {lse.DType.Name()}");
        if (dQkv.DType != qkv.DType || dQkv.Count != qkv.Count)
            throw new ArgumentException($"AttentionBackward: dQkv must match qkv {qkv.Shape} {qkv.DType.Name()}, got {dQkv.Shape} {dQkv.DType.Name()}");
        // D = rowsum(dO∘O) [B, NH, T]: written by the dQ kernel, read by the dK/dV kernel that runs after it.
        using var dRows = Scratch((long)b * heads * t);
        // T×T×HS products: the dQ kernel recomputes S and forms dP and dQ (3); the dK/dV kernel recomputes S and P
        // and forms dV, dP and dK (4).
        double product = 2.0 * b * heads * t * t * hs;
        if (TensorCoreAttention(qkv.DType, hs))
        {
            int tiles = (t + MmaRows - 1) / MmaRows;
            var grid = ((uint)tiles, (uint)(b * heads), 1u);
            // The bias gradient's partials: one row per (sequence, 64-row tile), each kernel writing its own columns;
            // the dK/dV kernel's last block per head adds them (attention_mma.cu).
            using var partials = dQkvBias is null ? null : Scratch((long)b * tiles * 3 * heads * hs);
            // The dK/dV kernel reads the partials back once more than its arguments say.
            long? dkdvBytes = partials is null ? null
                : dOutput.Bytes + qkv.Bytes + qkvBias!.Bytes + keyMask.Bytes + lse.Bytes + dRows.Bytes + dQkv.Bytes + 2 * partials.Bytes + dQkvBias!.Bytes;
            K(AttentionMmaSource, $"attention_backward_dq_mma_bf16_hs{hs}").Launch(LaunchCost.Of(3 * product, FlopRate.Bf16), grid, (MmaThreads, 1, 1), 0,
                dOutput, qkv, qkvBias, keyMask, output, lse, heads, t, scale, dropout, seed, offset, RngBase, dRows, dQkv, partials);
            K(AttentionMmaSource, $"attention_backward_dkdv_mma_bf16_hs{hs}").Launch(new LaunchCost(4 * product, FlopRate.Bf16, dkdvBytes), grid, (MmaThreads, 1, 1), 0,
                dOutput, qkv, qkvBias, keyMask, lse, dRows, heads, t, scale, dropout, seed, offset, RngBase, dQkv, partials, (ulong)_columnTickets, dQkvBias);
            return;
        }
        var (_, bq, bk) = AttentionTiles(hs);
        int qTiles = (t + bq - 1) / bq, kTiles = (t + bk - 1) / bk;
        // The bias gradient's partials: the dQ kernel's per (sequence, query tile), the dK/dV kernel's per (sequence,
        // key tile); the dK/dV kernel's last block per head adds both (attention.cu).
        using var partialsQ = dQkvBias is null ? null : Scratch((long)b * qTiles * heads * hs);
        using var partialsKv = dQkvBias is null ? null : Scratch((long)b * kTiles * 2 * heads * hs);
        long? dkdvBytesF = partialsQ is null ? null
            : dOutput.Bytes + qkv.Bytes + qkvBias!.Bytes + keyMask.Bytes + lse.Bytes + dRows.Bytes + dQkv.Bytes + partialsQ.Bytes + 2 * partialsKv!.Bytes + dQkvBias!.Bytes;
        K(AttentionSource, $"attention_backward_dq_{suffix}_hs{hs}").Launch(LaunchCost.Of(3 * product, FlopRate.Fp32), ((uint)qTiles, (uint)(b * heads), 1), (256, 1, 1), 0,
            dOutput, qkv, qkvBias, keyMask, output, lse, heads, t, scale, dropout, seed, offset, RngBase, dRows, dQkv, partialsQ);
        K(AttentionSource, $"attention_backward_dkdv_{suffix}_hs{hs}").Launch(new LaunchCost(4 * product, FlopRate.Fp32, dkdvBytesF), ((uint)kTiles, (uint)(b * heads), 1), (256, 1, 1), 0,
            dOutput, qkv, qkvBias, keyMask, lse, dRows, heads, t, scale, dropout, seed, offset, RngBase, dQkv, partialsQ, partialsKv, (ulong)_columnTickets, dQkvBias);
    }

    private static void CheckQkvBias(string op, Tensor? bias, string name, int h)
    {
        if (bias is not null && (bias.DType != DType.F32 || bias.Count != 3L * h))
            throw new ArgumentException($"{op}: {name} must be [{3 * h}] f32, got {bias.Shape} {bias.DType.Name()}");
    }

    private static (int B, int T, int Hs, string Suffix) AttentionChecks(string op, Tensor qkv, Tensor keyMask, int heads, float dropout)
    {
        if (heads <= 0 || qkv.Rank != 3 || qkv.Shape[2] % (3 * heads) != 0)
            throw new ArgumentException($"{op}: qkv must be [B, T, 3·NH·HS], got {qkv.Shape} for {heads} heads");
        int b = qkv.Shape[0], t = qkv.Shape[1], hs = qkv.Shape[2] / (3 * heads);
        _ = AttentionTiles(hs);
        if (keyMask.DType != DType.I32 || keyMask.Count != (long)b * t)
            throw new ArgumentException($"{op}: keyMask must be [{b}, {t}] i32, got {keyMask.Shape} {keyMask.DType.Name()}");
        if (!(dropout >= 0f && dropout < 1f))
            throw new ArgumentOutOfRangeException(nameof(dropout), $"{op}: dropout must be in [0, 1), got {dropout}");
        string suffix = qkv.DType switch
        {
            DType.F32 => "f32",
            DType.BF16 => "bf16",
            _ => throw new ArgumentException($"{op}: qkv must be f32 or bf16, got {qkv.DType.Name()}"),
        };
        return (b, t, hs, suffix);
    }
}
