namespace Electra.Cuda;

// Launch code for kernels-cu/attention.cu: owned by the flagship-kernels work (issue 4), which replaces this file.
public sealed partial class CudaBackend
{
    public void AttentionForward(Tensor qkv, Tensor keyMask, int heads, float scale, float dropout, ulong seed, ulong offset, Tensor output, Tensor lse) =>
        throw Pending("AttentionForward", "attention.cu");

    public void AttentionBackward(Tensor dOutput, Tensor qkv, Tensor keyMask, Tensor output, Tensor lse, int heads, float scale, float dropout, ulong seed, ulong offset, Tensor dQkv) =>
        throw Pending("AttentionBackward", "attention.cu");

    private static NotSupportedException Pending(string op, string source) =>
        new($"CudaBackend.{op} is not wired yet: its kernel (kernels-cu/{source}) comes with the flagship-kernels work (issue 4)");
}
