namespace Electra.Cuda;

// Launch code for kernels-cu/softmax_cross_entropy.cu: a block per row, one read of the logits for the loss, the
// gradient (in place when dLogits is the logits) and the Gumbel sample.
public sealed partial class CudaBackend
{
    private const string SoftmaxCrossEntropySource = "softmax_cross_entropy.cu";

    public void SoftmaxCrossEntropy(Tensor logits, Tensor targets, int ignoreIndex, Tensor losses, Tensor? dLogits, float gradScale,
        Tensor? samples, float temperature, ulong seed, ulong offset, Tensor? validRows = null, Tensor? scaleBy = null)
    {
        Own("SoftmaxCrossEntropy", logits, targets, losses, dLogits, samples, validRows, scaleBy);
        var (m, v, suffix) = LogitRows("SoftmaxCrossEntropy", logits);
        if (targets.DType != DType.I32 || targets.Count != m)
            throw new ArgumentException($"SoftmaxCrossEntropy: targets must be [{m}] i32, got {targets.Shape} {targets.DType.Name()}");
        if (losses.DType != DType.F32 || losses.Count != m)
            throw new ArgumentException($"SoftmaxCrossEntropy: losses must be [{m}] f32, got {losses.Shape} {losses.DType.Name()}");
        if (dLogits is not null && (dLogits.DType != logits.DType || dLogits.Count != logits.Count || dLogits.Pointer % 16 != 0))
            throw new ArgumentException($"SoftmaxCrossEntropy: dLogits {dLogits.Shape} {dLogits.DType.Name()} must match logits {logits.Shape} {logits.DType.Name()} (16-byte aligned)");
        if (samples is not null) SampleChecks("SoftmaxCrossEntropy", samples, m, temperature);
        if (validRows is not null && (validRows.DType != DType.I32 || validRows.Count != 1))
            throw new ArgumentException($"SoftmaxCrossEntropy: validRows must be one i32 element, got {validRows.Shape} {validRows.DType.Name()}");
        Scalar("SoftmaxCrossEntropy", scaleBy);
        K(SoftmaxCrossEntropySource, $"softmax_cross_entropy_{suffix}").Launch(((uint)m, 1, 1), (512, 1, 1), 0,
            logits, targets, ignoreIndex, losses, dLogits, gradScale, samples, samples is null ? 1f : 1f / temperature, seed, offset, RngBase, v, ErrorsPointer,
            validRows, scaleBy);
    }

    /// <summary>Rows and columns of a logits matrix, and the kernel suffix of its dtype; checks the alignment the 16-byte loads need.</summary>
    private static (int M, int V, string Suffix) LogitRows(string op, Tensor logits)
    {
        if (logits.Rank != 2) throw new ArgumentException($"{op}: logits must be [M, V], got {logits.Shape}");
        string suffix = logits.DType switch
        {
            DType.F32 => "f32",
            DType.BF16 => "bf16",
            _ => throw new ArgumentException($"{op}: logits must be f32 or bf16, got {logits.DType.Name()}"),
        };
        if (logits.Pointer % 16 != 0) throw new ArgumentException($"{op}: logits must start 16-byte aligned (pool allocations do)");
        return (logits.Shape[0], logits.Shape[1], suffix);
    }

    private static void SampleChecks(string op, Tensor samples, int m, float temperature)
    {
        if (samples.DType != DType.I32 || samples.Count != m)
            throw new ArgumentException($"{op}: samples must be [{m}] i32, got {samples.Shape} {samples.DType.Name()}");
        if (!(temperature > 0f) || float.IsInfinity(temperature))
            throw new ArgumentOutOfRangeException(nameof(temperature), $"{op}: temperature must be positive and finite, got {temperature}");
    }
}
