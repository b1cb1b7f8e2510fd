using Electra.Nn;

namespace Electra.Model;

/// <summary>
/// One post-LN BERT block, with HF's module names: attention.self (one fused QKV projection, stored split as
/// query/key/value in checkpoints), attention.output (dense, LayerNorm), intermediate.dense, output (dense, LayerNorm).
/// </summary>
public sealed class TransformerLayer : Module
{
    private readonly ElectraConfig _config;

    public TransformerLayer(ElectraConfig config, Random rng, Device device)
    {
        _config = config;
        int h = config.HiddenSize;
        float std = config.InitializerRange;
        var attention = RegisterModule("attention", new Block());
        var self = attention.Add("self", new Block());
        Qkv = self.Add("qkv", new Linear(h, 3 * h, true, std, rng, device));
        var attentionOutput = attention.Add("output", new Block());
        AttentionDense = attentionOutput.Add("dense", new Linear(h, h, true, std, rng, device));
        AttentionNorm = attentionOutput.Add("LayerNorm", new LayerNorm(h, config.LayerNormEps, device));
        var intermediate = RegisterModule("intermediate", new Block());
        Intermediate = intermediate.Add("dense", new Linear(h, config.IntermediateSize, true, std, rng, device));
        var output = RegisterModule("output", new Block());
        OutputDense = output.Add("dense", new Linear(config.IntermediateSize, h, true, std, rng, device));
        OutputNorm = output.Add("LayerNorm", new LayerNorm(h, config.LayerNormEps, device));
        HiddenDropout = RegisterModule("dropout", new Dropout(config.HiddenDropoutProb));
    }

    /// <summary>Fused Q, K, V projection: weight [3H, H], rows [0, H) query, [H, 2H) key, [2H, 3H) value.</summary>
    public Linear Qkv { get; }
    public Linear AttentionDense { get; }
    public LayerNorm AttentionNorm { get; }
    public Linear Intermediate { get; }
    public Linear OutputDense { get; }
    public LayerNorm OutputNorm { get; }
    public Dropout HiddenDropout { get; }

    /// <summary>x [B·T, H], keyMask [B, T] I32 → [B·T, H].</summary>
    public Tensor Forward(Tensor x, Tensor keyMask)
    {
        int b = keyMask.Shape[0], t = keyMask.Shape[1], h = _config.HiddenSize;
        // The projection's bias is added by attention as it reads Q, K and V.
        var qkv = Qkv.ForwardWithoutBias(x).Reshape(b, t, 3 * h);                       // [B, T, 3, NH, HS]
        float attnDropout = Training ? _config.AttentionProbsDropoutProb : 0f;
        var context = Ops.Attention(qkv, keyMask, _config.NumAttentionHeads, attnDropout, Training ? Random : null, Qkv.Bias)
            .Reshape(b * t, h);                                                          // [B·T, H]
        // Each dense layer's bias and the hidden dropout run inside the LayerNorm that follows.
        var attended = AttentionNorm.Forward(AttentionDense.ForwardWithoutBias(context), x, AttentionDense.Bias!, HiddenDropout);
        var inner = Intermediate.ForwardGelu(attended);                                 // [B·T, I]
        return OutputNorm.Forward(OutputDense.ForwardWithoutBias(inner), attended, OutputDense.Bias!, HiddenDropout);
    }

    /// <summary>A named grouping with no computation of its own, so parameter paths match HF's.</summary>
    internal sealed class Block : Module
    {
        public T Add<T>(string name, T module) where T : Module => RegisterModule(name, module);
    }
}
