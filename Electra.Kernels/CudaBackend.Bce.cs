namespace Electra.Cuda;

// Launch code for kernels-cu/bce.cu: BCE-with-logits and its gradient in one pass.
public sealed partial class CudaBackend
{
    public void BceWithLogits(Tensor logits, Tensor labels, Tensor weights, Tensor losses, Tensor dLogits, float gradScale, Tensor? scaleBy = null)
    {
        Own("BceWithLogits", logits, labels, weights, losses, dLogits, scaleBy);
        F32("BceWithLogits", logits, labels, weights, losses, dLogits);
        Scalar("BceWithLogits", scaleBy);
        long n = logits.Count;
        if (labels.Count != n || weights.Count != n || losses.Count != n || dLogits.Count != n)
            throw new ArgumentException($"BceWithLogits: labels, weights, losses and dLogits need {n} elements");
        K("bce.cu", "bce_with_logits").Launch1D(n, Threads, logits, labels, weights, losses, dLogits, gradScale, n, scaleBy);
    }
}
