namespace Electra.Cuda;

// Launch code for kernels-cu/gumbel.cu: owned by the flagship-kernels work (issue 4), which replaces this file.
public sealed partial class CudaBackend
{
    public void GumbelSample(Tensor logits, float temperature, ulong seed, ulong offset, Tensor? disallowed, Tensor samples) =>
        throw Pending("GumbelSample", "gumbel.cu");
}
