namespace Electra.Cuda;

// Launch code for kernels-cu/layernorm.cu: owned by the flagship-kernels work (issue 4), which replaces this file.
public sealed partial class CudaBackend
{
    public void LayerNormForward(Tensor x, Tensor? residual, Tensor gamma, Tensor beta, float eps, Tensor y, Tensor mean, Tensor rstd, Tensor? sum) =>
        throw Pending("LayerNormForward", "layernorm.cu");

    public void LayerNormBackward(Tensor dY, Tensor sum, Tensor gamma, Tensor mean, Tensor rstd, Tensor dS, Tensor dGamma, Tensor dBeta) =>
        throw Pending("LayerNormBackward", "layernorm.cu");
}
