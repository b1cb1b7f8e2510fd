using Electra.Nn;

namespace Electra.Model;

/// <summary>
/// Word + position + token-type embeddings, then LayerNorm and dropout: HF's <c>ElectraEmbeddings</c>. In
/// pretraining one instance is shared by the generator and the discriminator, LayerNorm included.
/// </summary>
public sealed class ElectraEmbeddings : Module
{
    private readonly Dictionary<(int b, int t, Device d), Tensor> _positionIds = new();
    private readonly Dictionary<Device, Tensor> _paddingRows = new();

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
        int b = ids.Shape[0], t = ids.Shape[1];
        if (t > Config.MaxPositionEmbeddings)
            throw new ArgumentException($"sequence length {t} exceeds max_position_embeddings {Config.MaxPositionEmbeddings}");
        var flatIds = ids.Reshape(b * t);
        var words = Ops.Embedding(WordEmbeddings.Weight, flatIds, PaddingRow(ids.Device));
        var positions = Ops.Embedding(PositionEmbeddings.Weight, PositionIds(b, t, ids.Device));
        var types = Ops.Embedding(TokenTypeEmbeddings.Weight, typeIds.Reshape(b * t));
        var x = LayerNorm.Forward(Ops.Add(words, positions), types);
        return Dropout.Forward(x);
    }

    private Tensor PositionIds(int b, int t, Device device)
    {
        if (_positionIds.TryGetValue((b, t, device), out var ids)) return ids;
        var data = new int[b * t];
        for (int i = 0; i < data.Length; i++) data[i] = i % t;
        ids = TensorScope.Outside(() => Tensor.FromArray(data, [b * t], device));
        _positionIds[(b, t, device)] = ids;
        return ids;
    }

    /// <summary>[PAD]'s row index on the device, made once: the word embedding's backward reads it every step.</summary>
    private Tensor PaddingRow(Device device)
    {
        if (_paddingRows.TryGetValue(device, out var row)) return row;
        row = TensorScope.Outside(() => Tensor.FromArray([Config.PadTokenId], [1], device));
        _paddingRows[device] = row;
        return row;
    }

    /// <summary>HF initialises the [PAD] row to zero (nn.Embedding padding_idx) and never updates it.</summary>
    private void ZeroPaddingRow()
    {
        var w = WordEmbeddings.Weight;
        using var zeros = Tensor.Zeros([1, Config.EmbeddingSize], DType.F32, w.Device);
        using var row = Tensor.FromArray([Config.PadTokenId], [1], w.Device);
        w.Backend.ScatterRows(zeros, row, w, accumulate: false);
    }

    public override void Dispose()
    {
        foreach (var t in _positionIds.Values.Concat(_paddingRows.Values)) t.Dispose();
        _positionIds.Clear();
        _paddingRows.Clear();
        base.Dispose();
    }
}
