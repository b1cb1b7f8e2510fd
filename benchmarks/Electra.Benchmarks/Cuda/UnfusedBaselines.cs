using Electra.Cuda;

namespace Electra.Benchmarks.Cuda;

/// <summary>
/// The unfused kernel sequences (kernels-cu/unfused_baselines.cu plus the backend's Add, SumRows and Argmax) that do
/// the work of layernorm.cu, softmax_cross_entropy.cu and gumbel.cu one simple pass at a time. F32 only.
/// </summary>
internal static class UnfusedBaselines
{
    private const string Source = "unfused_baselines.cu";
    private const int ColumnChunk = 64; // rows per dγ/dβ partial

    private static CudaKernel K(CudaBackend be, string name) => be.CudaDevice.Kernel(Source, name);

    private static (uint, uint, uint) RowWarps(int rows) => ((uint)((rows + 7) / 8), 1, 1);

    /// <summary>s = x + residual; mean; rstd; y = (s − mean)·rstd·γ + β: four kernels.</summary>
    public static void LayerNormForward(CudaBackend be, Tensor x, Tensor residual, Tensor gamma, Tensor beta, float eps,
        Tensor y, Tensor mean, Tensor rstd, Tensor s)
    {
        int rows = x.Shape[0], c = x.Shape[1];
        be.Add(x, residual, s, 1f, 1f);
        K(be, "baseline_row_mean").Launch(RowWarps(rows), (256, 1, 1), 0, s, rows, c, mean);
        K(be, "baseline_row_rstd").Launch(RowWarps(rows), (256, 1, 1), 0, s, mean, rows, c, eps, rstd);
        K(be, "baseline_layernorm_normalise").Launch1D((long)rows * c, 256, s, mean, rstd, gamma, beta, rows, c, y);
    }

    /// <summary>Row means of dŷ and dŷ∘x̂; dS; column partials of dγ, dβ; their sums: five kernels.</summary>
    public static void LayerNormBackward(CudaBackend be, Tensor dY, Tensor s, Tensor gamma, Tensor mean, Tensor rstd,
        Tensor dS, Tensor dGamma, Tensor dBeta, Tensor rowA, Tensor rowB, Tensor partialG, Tensor partialB)
    {
        int rows = dY.Shape[0], c = dY.Shape[1];
        K(be, "baseline_layernorm_backward_rows").Launch(RowWarps(rows), (256, 1, 1), 0, dY, s, gamma, mean, rstd, rows, c, rowA, rowB);
        K(be, "baseline_layernorm_backward_dx").Launch1D((long)rows * c, 256, dY, s, gamma, mean, rstd, rowA, rowB, rows, c, dS);
        K(be, "baseline_layernorm_backward_columns").Launch(((uint)((c + 255) / 256), (uint)PartialRows(rows), 1), (256, 1, 1), 0,
            dY, s, mean, rstd, rows, c, ColumnChunk, partialG, partialB);
        be.SumRows(partialG, dGamma, 0f);
        be.SumRows(partialB, dBeta, 0f);
    }

    public static int PartialRows(int rows) => (rows + ColumnChunk - 1) / ColumnChunk;

    /// <summary>Row max; Σexp; loss; gradient: four kernels (and, with <paramref name="samples"/>, the two of Gumbel).</summary>
    public static void SoftmaxCrossEntropy(CudaBackend be, Tensor logits, Tensor targets, Tensor losses, Tensor dLogits, float gradScale,
        Tensor rowMax, Tensor rowSum, Tensor? samples, Tensor? scores, float temperature, ulong seed, ulong offset)
    {
        int m = logits.Shape[0], v = logits.Shape[1];
        K(be, "baseline_row_max").Launch(((uint)m, 1, 1), (256, 1, 1), 0, logits, v, rowMax);
        K(be, "baseline_row_sum_exp").Launch(((uint)m, 1, 1), (256, 1, 1), 0, logits, rowMax, v, rowSum);
        K(be, "baseline_cross_entropy_loss").Launch(((uint)((m + 255) / 256), 1, 1), (256, 1, 1), 0, logits, targets, rowMax, rowSum, m, v, losses);
        K(be, "baseline_cross_entropy_grad").Launch1D((long)m * v, 256, logits, targets, rowMax, rowSum, m, v, gradScale, dLogits);
        if (samples is not null) GumbelSample(be, logits, temperature, seed, offset, scores!, samples);
    }

    /// <summary>scores = logits/τ + Gumbel noise (one pass, written out); argmax (a second pass).</summary>
    public static void GumbelSample(CudaBackend be, Tensor logits, float temperature, ulong seed, ulong offset, Tensor scores, Tensor samples)
    {
        K(be, "baseline_gumbel_scores").Launch1D(logits.Count, 256, logits, 1f / temperature, seed, offset, logits.Count, scores);
        be.Argmax(scores, samples);
    }
}
