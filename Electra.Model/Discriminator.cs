using Electra.Nn;

namespace Electra.Model;

/// <summary>
/// HF's <c>ElectraForPreTraining</c>: the encoder and a replaced-token-detection head, dense H→H, GELU, dense H→1:
/// one logit per token, "was this token replaced?".
/// </summary>
public sealed class Discriminator : Module
{
    public Discriminator(ElectraConfig config, ElectraEmbeddings embeddings, Random rng, Device device)
    {
        Config = config;
        Electra = RegisterModule("electra", new ElectraModel(config, embeddings, rng, device));
        var head = RegisterModule("discriminator_predictions", new TransformerLayer.Block());
        Dense = head.Add("dense", new Linear(config.HiddenSize, config.HiddenSize, true, config.InitializerRange, rng, device));
        DensePrediction = head.Add("dense_prediction", new Linear(config.HiddenSize, 1, true, config.InitializerRange, rng, device));
    }

    public ElectraConfig Config { get; }
    public ElectraModel Electra { get; }
    public Linear Dense { get; }
    public Linear DensePrediction { get; }

    /// <summary>ids, typeIds, attentionMask [B, T] → logits [B·T].</summary>
    public Tensor Forward(Tensor ids, Tensor typeIds, Tensor attentionMask)
    {
        var hidden = Electra.Forward(ids, typeIds, attentionMask);
        var logits = DensePrediction.Forward(Dense.ForwardGelu(hidden));     // [B·T, 1]
        return logits.Reshape(-1);
    }
}
