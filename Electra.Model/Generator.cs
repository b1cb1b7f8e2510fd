using Electra.Nn;

namespace Electra.Model;

/// <summary>
/// HF's <c>ElectraForMaskedLM</c>: a small encoder, then dense H→E, GELU, LayerNorm(E), and logits against the
/// shared word embeddings (tied) plus a bias of its own (<c>generator_lm_head.bias</c>).
/// </summary>
public sealed class Generator : Module
{
    public Generator(ElectraConfig config, ElectraEmbeddings embeddings, Random rng, Device device)
    {
        Config = config;
        Electra = RegisterModule("electra", new ElectraModel(config, embeddings, rng, device));
        var head = RegisterModule("generator_predictions", new TransformerLayer.Block());
        Dense = head.Add("dense", new Linear(config.HiddenSize, config.EmbeddingSize, true, config.InitializerRange, rng, device));
        LayerNorm = head.Add("LayerNorm", new LayerNorm(config.EmbeddingSize, config.LayerNormEps, device));
        var lmHead = RegisterModule("generator_lm_head", new ParameterHolder());
        LmBias = lmHead.Add("bias", Tensor.Zeros([config.VocabSize], DType.F32, device));
    }

    public ElectraConfig Config { get; }
    public ElectraModel Electra { get; }
    public Linear Dense { get; }
    public LayerNorm LayerNorm { get; }
    public Tensor LmBias { get; }

    /// <summary>The tied output projection: the shared word embeddings [V, E].</summary>
    public Tensor LmWeight => Electra.Embeddings.WordEmbeddings.Weight;

    /// <summary>Hidden states [B·T, H] of the generator's encoder.</summary>
    public Tensor Encode(Tensor ids, Tensor typeIds, Tensor attentionMask) => Electra.Forward(ids, typeIds, attentionMask);

    /// <summary>Vocabulary logits [M, V] for selected hidden rows [M, H]: only masked positions pay for the V-wide GEMM.</summary>
    public Tensor Logits(Tensor hiddenRows)
    {
        var h = LayerNorm.Forward(Dense.ForwardGelu(hiddenRows));          // [M, E]
        return Ops.Linear(h, LmWeight, LmBias);                             // [M, V]
    }
}
