namespace Electra.Cuda;

// Launch code for kernels-cu/gumbel.cu: Gumbel-max sampling, a block per row.
public sealed partial class CudaBackend
{
    private const string GumbelSource = "gumbel.cu";

    public void GumbelSample(Tensor logits, float temperature, ulong seed, ulong offset, Tensor? disallowed, Tensor samples)
    {
        Own("GumbelSample", logits, disallowed, samples);
        var (m, v, suffix) = LogitRows("GumbelSample", logits);
        SampleChecks("GumbelSample", samples, m, temperature);
        if (disallowed is not null && (disallowed.DType != DType.I32 || disallowed.Count != m))
            throw new ArgumentException($"GumbelSample: disallowed must be [{m}] i32, got {disallowed.Shape} {disallowed.DType.Name()}");
        K(GumbelSource, $"gumbel_sample_{suffix}").Launch(((uint)m, 1, 1), (512, 1, 1), 0,
            logits, 1f / temperature, seed, offset, RngBase, disallowed, samples, v);
    }
}
