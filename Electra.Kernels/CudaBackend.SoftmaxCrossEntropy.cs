namespace Electra.Cuda;

// Launch code for kernels-cu/softmax_cross_entropy.cu: owned by the flagship-kernels work (issue 4), which replaces this file.
public sealed partial class CudaBackend
{
    public void SoftmaxCrossEntropy(Tensor logits, Tensor targets, int ignoreIndex, Tensor losses, Tensor? dLogits, float gradScale,
        Tensor? samples, float temperature, ulong seed, ulong offset) =>
        throw Pending("SoftmaxCrossEntropy", "softmax_cross_entropy.cu");
}
