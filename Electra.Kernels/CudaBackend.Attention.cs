namespace Electra.Cuda;

// Launch code for kernels-cu/attention.cu: owned by the flagship-kernels work (issue 4), which replaces this file.
public sealed partial class CudaBackend
{
    public void AttentionForward(Tensor qkv, Tensor keyMask, int heads, float scale, float dropout, ulong seed, ulong offset, Tensor output, Tensor lse) =>
        throw Pending("AttentionForward", "attention.cu");

    public void AttentionBackward(Tensor dOutput, Tensor qkv, Tensor keyMask, Tensor output, Tensor lse, int heads, float scale, float dropout, ulong seed, ulong offset, Tensor dQkv) =>
        throw Pending("AttentionBackward", "attention.cu");
}
