using Electra.Nn;

namespace Electra.Model;

/// <summary>
/// Word + position + token-type embeddings, then LayerNorm and dropout: HF's <c>ElectraEmbeddings</c>. In
/// pretraining one instance is shared by the generator and the discriminator, LayerNorm included.
/// </summary>
public sealed class ElectraEmbeddings : Module
{
    public ElectraEmbeddings(ElectraConfig config, Random rng, Device device)
    {
        Config = config;
        WordEmbeddings = RegisterModule("word_embeddings", new Embedding(config.VocabSize, config.EmbeddingSize, config.InitializerRange, rng, device));
        PositionEmbeddings = RegisterModule("position_embeddings", new Embedding(config.MaxPositionEmbeddings, config.EmbeddingSize, config.InitializerRange, rng, device));
        TokenTypeEmbeddings = RegisterModule("token_type_embeddings", new Embedding(config.TypeVocabSize, config.EmbeddingSize, config.InitializerRange, rng, device));
        LayerNorm = RegisterModule("LayerNorm", new LayerNorm(config.EmbeddingSize, config.LayerNormEps, device));
        Dropout = RegisterModule("dropout", new Dropout(config.HiddenDropoutProb));
        ZeroPaddingRow();
    }

    public ElectraConfig Config { get; }
    public Embedding WordEmbeddings { get; }
    public Embedding PositionEmbeddings { get; }
    public Embedding TokenTypeEmbeddings { get; }
    public LayerNorm LayerNorm { get; }
    public Dropout Dropout { get; }

    /// <summary>ids, typeIds [B, T] I32 → [B·T, E].</summary>
    public Tensor Forward(Tensor ids, Tensor typeIds)
    {
        int t = ids.Shape[1];
        if (t > Config.MaxPositionEmbeddings)
            throw new ArgumentException($"sequence length {t} exceeds max_position_embeddings {Config.MaxPositionEmbeddings}");
        // One op for the three lookups and their sum; LayerNorm then normalises it without a residual of its own.
        var sum = Ops.EmbeddingSum(WordEmbeddings.Weight, PositionEmbeddings.Weight, TokenTypeEmbeddings.Weight, ids, typeIds, Config.PadTokenId);
        return Dropout.Forward(LayerNorm.Forward(sum));
    }

    /// <summary>HF initialises the [PAD] row to zero (nn.Embedding padding_idx) and never updates it.</summary>
    private void ZeroPaddingRow()
    {
        var w = WordEmbeddings.Weight;
        using var zeros = Tensor.Zeros([1, Config.EmbeddingSize], DType.F32, w.Device);
        using var row = Tensor.FromArray([Config.PadTokenId], [1], w.Device);
        w.Backend.ScatterRows(zeros, row, w, accumulate: false);
    }
}
