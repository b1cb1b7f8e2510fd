namespace Electra.Nn;

/// <summary>y = x·Wᵀ + b with weight [Out, In] (PyTorch layout), N(0, std) weights and zero bias.</summary>
public sealed class Linear : Module
{
    public Linear(int inFeatures, int outFeatures, bool bias = true, float std = 0.02f, System.Random? rng = null, Device? device = null)
    {
        var dev = device ?? Device.Cpu;
        Weight = RegisterParameter("weight", Normal(new Shape(outFeatures, inFeatures), std, rng ?? new System.Random(0), dev));
        Bias = bias ? RegisterParameter("bias", Tensor.Zeros(new Shape(outFeatures), DType.F32, dev)) : null;
    }

    public Tensor Weight { get; }
    public Tensor? Bias { get; }
    public int InFeatures => Weight.Shape[1];
    public int OutFeatures => Weight.Shape[0];

    public Tensor Forward(Tensor x) => Ops.Linear(x, Weight, Bias);

    /// <summary>x·Wᵀ alone, for a consumer that adds <see cref="Bias"/> in its own pass (LayerNorm's input bias).</summary>
    public Tensor ForwardWithoutBias(Tensor x) => Ops.Linear(x, Weight, null);

    /// <summary>GELU(x·Wᵀ + b), the bias and activation fused.</summary>
    public Tensor ForwardGelu(Tensor x) => Ops.LinearGelu(x, Weight, Bias ?? throw new InvalidOperationException("ForwardGelu needs a bias"));
}

/// <summary>A lookup table [Count, Dim] initialised N(0, std).</summary>
public sealed class Embedding : Module
{
    public Embedding(int count, int dim, float std = 0.02f, System.Random? rng = null, Device? device = null)
    {
        Weight = RegisterParameter("weight", Normal(new Shape(count, dim), std, rng ?? new System.Random(0), device ?? Device.Cpu));
    }

    public Tensor Weight { get; }

    public Tensor Forward(Tensor ids) => Ops.Embedding(Weight, ids);
}

/// <summary>LayerNorm over the last axis, γ = 1 and β = 0 at start; optionally adds a residual first.</summary>
public sealed class LayerNorm : Module
{
    public LayerNorm(int dim, float eps = 1e-12f, Device? device = null)
    {
        var dev = device ?? Device.Cpu;
        Weight = RegisterParameter("weight", Tensor.Ones(new Shape(dim), DType.F32, dev));
        Bias = RegisterParameter("bias", Tensor.Zeros(new Shape(dim), DType.F32, dev));
        Eps = eps;
    }

    public Tensor Weight { get; }
    public Tensor Bias { get; }
    public float Eps { get; }

    public Tensor Forward(Tensor x, Tensor? residual = null) => Ops.LayerNorm(x, residual, Weight, Bias, Eps);

    /// <summary>
    /// LayerNorm(dropout(x + inputBias) + residual): the preceding dense layer's bias and the hidden dropout done in
    /// the norm's own pass, forward and backward, with the same result as applying them one by one.
    /// </summary>
    public Tensor Forward(Tensor x, Tensor? residual, Tensor inputBias, Dropout dropout)
    {
        var (p, rng) = dropout.Active;
        return Ops.LayerNorm(x, residual, Weight, Bias, Eps, inputBias, p, rng);
    }
}

/// <summary>Inverted dropout in training mode with a random stream; the identity otherwise.</summary>
public sealed class Dropout(float p) : Module
{
    public float P { get; } = p is >= 0f and < 1f ? p : throw new ArgumentOutOfRangeException(nameof(p), p, "dropout must be in [0, 1)");

    public Tensor Forward(Tensor x) => Active.Rng is { } rng ? Ops.Dropout(x, P, rng) : x;

    /// <summary>The probability and stream in effect now: (0, null) outside training or without a stream.</summary>
    public (float P, RandomStream? Rng) Active => Training && P > 0f && Random is not null ? (P, Random) : (0f, null);
}
