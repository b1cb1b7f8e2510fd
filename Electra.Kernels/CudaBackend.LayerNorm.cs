namespace Electra.Cuda;

// Launch code for kernels-cu/layernorm.cu: a warp per row; the backward's dγ/dβ from per-block partials added
// in block order by the last block, in the same launch.
public sealed partial class CudaBackend
{
    private const string LayerNormSource = "layernorm.cu";
    private const int LayerNormRowsPerBlock = 64; // backward stage 1: rows per partial sum (fixed: same bits on every device)

    public void LayerNormForward(Tensor x, Tensor? residual, Tensor gamma, Tensor beta, float eps, Tensor y, Tensor mean, Tensor rstd, Tensor? sum,
        LayerNormInput input = default)
    {
        Own("LayerNormForward", x, residual, gamma, beta, y, mean, rstd, sum, input.Bias);
        int rows = (int)x.Shape.Rows, c = x.Shape.Last;
        string suffix = LayerNormSuffix("LayerNormForward", x, c);
        foreach (var (name, t) in new[] { ("residual", residual), ("y", y), ("sum", sum) })
            if (t is not null && (t.DType != x.DType || t.Count != x.Count))
                throw new ArgumentException($"LayerNormForward: {name} {t.Shape} {t.DType.Name()} must match x {x.Shape} {x.DType.Name()}");
        LayerNormParams("LayerNormForward", gamma, beta, mean, rstd, rows, c);
        var (p, keepScale) = InputDropout("LayerNormForward", input, c);
        if (!input.IsIdentity && sum is null)
            throw new ArgumentException("LayerNormForward: a bias or dropout on the input needs the sum tensor (backward reads s)");
        K(LayerNormSource, $"layernorm_forward_{suffix}").Launch(((uint)((rows + 7) / 8), 1, 1), (256, 1, 1), 0,
            x, residual, gamma, beta, eps, y, mean, rstd, sum, input.Bias, p, keepScale, input.Seed, input.Offset, RngBase, rows, c);
    }

    public void LayerNormBackward(Tensor dY, Tensor sum, Tensor gamma, Tensor mean, Tensor rstd, Tensor dS, Tensor dGamma, Tensor dBeta,
        LayerNormInput input = default, Tensor? dX = null, Tensor? dBias = null, bool addToParams = false)
    {
        Own("LayerNormBackward", dY, sum, gamma, mean, rstd, dS, dGamma, dBeta, dX, dBias);
        int rows = (int)dY.Shape.Rows, c = dY.Shape.Last;
        string suffix = LayerNormSuffix("LayerNormBackward", dY, c);
        foreach (var (name, t) in new[] { ("sum", sum), ("dS", dS) })
            if (t.DType != dY.DType || t.Count != dY.Count)
                throw new ArgumentException($"LayerNormBackward: {name} {t.Shape} {t.DType.Name()} must match dY {dY.Shape} {dY.DType.Name()}");
        LayerNormParams("LayerNormBackward", gamma, dGamma, mean, rstd, rows, c);
        if (dBeta.DType != DType.F32 || dBeta.Count != c)
            throw new ArgumentException($"LayerNormBackward: dBeta must be [{c}] f32, got {dBeta.Shape} {dBeta.DType.Name()}");
        var (p, keepScale) = InputDropout("LayerNormBackward", input, c);
        if (dX is not null && (dX.DType != dY.DType || dX.Count != dY.Count))
            throw new ArgumentException($"LayerNormBackward: dX {dX.Shape} {dX.DType.Name()} must match dY {dY.Shape} {dY.DType.Name()}");
        if (dBias is not null && (dBias.DType != DType.F32 || dBias.Count != c))
            throw new ArgumentException($"LayerNormBackward: dBias must be [{c}] f32, got {dBias.Shape} {dBias.DType.Name()}");
        using var dXScratch = dBias is not null && dX is null ? Scratch(dY.Count, dY.DType) : null; // dBias needs dX's sums
        var dx = dX ?? dXScratch;
        int blocks = (rows + LayerNormRowsPerBlock - 1) / LayerNormRowsPerBlock;
        int parts = dBias is null ? 2 : 3;
        using var partial = Scratch((long)blocks * parts * c);
        long bytes = dY.Bytes + sum.Bytes + dS.Bytes + (dx?.Bytes ?? 0) + 2 * partial.Bytes + (addToParams ? 2 : 1) * (dGamma.Bytes + dBeta.Bytes) + (dBias?.Bytes ?? 0);
        // Ticket 0 of the shared table: launches on the one stream never overlap, and each leaves it at 0.
        K(LayerNormSource, $"layernorm_backward_{suffix}").Launch(new LaunchCost(0, FlopRate.None, bytes), ((uint)blocks, 1, 1), (256, 1, 1),
            (uint)(8 * c * sizeof(float)), dY, sum, gamma, mean, rstd, dS, p, keepScale, input.Seed, input.Offset, RngBase, dx, partial,
            (ulong)_columnTickets, dGamma, dBeta, dBias, rows, c, LayerNormRowsPerBlock, addToParams ? 1 : 0);
    }

    /// <summary>Checks the input transform; returns the drop probability and the kept values' scale 1/(1−p).</summary>
    private static (float P, float KeepScale) InputDropout(string op, LayerNormInput input, int c)
    {
        if (input.Bias is { } b && (b.DType != DType.F32 || b.Count != c))
            throw new ArgumentException($"{op}: the input bias must be [{c}] f32, got {b.Shape} {b.DType.Name()}");
        if (!(input.Dropout >= 0f && input.Dropout < 1f))
            throw new ArgumentOutOfRangeException(nameof(input), $"{op}: input dropout must be in [0, 1), got {input.Dropout}");
        return (input.Dropout, 1f / (1f - input.Dropout));
    }

    // The kernel instance: dtype and N = values per lane, the smallest power of two with 32·N ≥ C.
    private static string LayerNormSuffix(string op, Tensor x, int c)
    {
        if (c < 1 || c > 1024) throw new ArgumentException($"{op}: rows of {c} elements; the CUDA kernel handles 1 to 1024");
        string type = x.DType switch
        {
            DType.F32 => "f32",
            DType.BF16 => "bf16",
            _ => throw new ArgumentException($"{op}: expected f32 or bf16 activations, got {x.DType.Name()}"),
        };
        int n = 1;
        while (32 * n < c) n *= 2;
        return $"{type}_{n}";
    }

    private static void LayerNormParams(string op, Tensor gamma, Tensor other, Tensor mean, Tensor rstd, int rows, int c)
    {
        foreach (var t in new[] { gamma, other })
            if (t.DType != DType.F32 || t.Count != c)
                throw new ArgumentException($"{op}: gamma/beta (and their gradients) must be [{c}] f32, got {t.Shape} {t.DType.Name()}");
        foreach (var t in new[] { mean, rstd })
            if (t.DType != DType.F32 || t.Count != rows)
                throw new ArgumentException($"{op}: mean/rstd must be [{rows}] f32, got {t.Shape} {t.DType.Name()}");
    }
}
