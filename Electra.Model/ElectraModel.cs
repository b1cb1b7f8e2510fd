using Electra.Nn;

namespace Electra.Model;

/// <summary>
/// HF's <c>ElectraModel</c>: embeddings (possibly shared), an E→H projection when E ≠ H, and the encoder layers.
/// </summary>
public sealed class ElectraModel : Module
{
    public ElectraModel(ElectraConfig config, ElectraEmbeddings embeddings, Random rng, Device device)
    {
        Config = config;
        if (embeddings.Config.EmbeddingSize != config.EmbeddingSize || embeddings.Config.VocabSize != config.VocabSize)
            throw new ArgumentException("shared embeddings do not match this network's embedding_size / vocab_size");
        Embeddings = RegisterModule("embeddings", embeddings);
        if (config.EmbeddingSize != config.HiddenSize)
            Projection = RegisterModule("embeddings_project", new Linear(config.EmbeddingSize, config.HiddenSize, true, config.InitializerRange, rng, device));
        var encoder = RegisterModule("encoder", new TransformerLayer.Block());
        Layers = encoder.Add("layer", new ModuleList<TransformerLayer>(
            Enumerable.Range(0, config.NumHiddenLayers).Select(_ => new TransformerLayer(config, rng, device)).ToList()));
    }

    public ElectraConfig Config { get; }
    public ElectraEmbeddings Embeddings { get; }
    public Linear? Projection { get; }
    public ModuleList<TransformerLayer> Layers { get; }

    /// <summary>ids, typeIds, attentionMask [B, T] I32 → hidden states [B·T, H].</summary>
    public Tensor Forward(Tensor ids, Tensor typeIds, Tensor attentionMask)
    {
        if (ids.Rank != 2 || typeIds.Shape != ids.Shape || attentionMask.Shape != ids.Shape)
            throw new ArgumentException($"ElectraModel: ids {ids.Shape}, token types {typeIds.Shape} and attention mask {attentionMask.Shape} must all be [B, T]");
        var x = Embeddings.Forward(ids, typeIds);
        if (Projection is not null) x = Projection.Forward(x);
        foreach (var layer in Layers) x = layer.Forward(x, attentionMask);
        return x;
    }
}
