using Electra.Nn;

namespace Electra.Model;

/// <summary>
/// HF's <c>ElectraForSequenceClassification</c>: the encoder, then on the [CLS] position dropout, dense H→H, GELU,
/// dropout, out_proj H→labels (<c>ElectraClassificationHead</c>). One label means regression (STS-B, MSE loss).
/// </summary>
public sealed class SequenceClassifier : Module
{
    public SequenceClassifier(ElectraConfig config, int numLabels, Random rng, Device device)
    {
        if (numLabels < 1) throw new ArgumentOutOfRangeException(nameof(numLabels), numLabels, "a classifier needs at least one label");
        Config = config;
        NumLabels = numLabels;
        var embeddings = new ElectraEmbeddings(config, rng, device);
        Electra = RegisterModule("electra", new ElectraModel(config, embeddings, rng, device));
        var head = RegisterModule("classifier", new TransformerLayer.Block());
        Dense = head.Add("dense", new Linear(config.HiddenSize, config.HiddenSize, true, config.InitializerRange, rng, device));
        OutProj = head.Add("out_proj", new Linear(config.HiddenSize, numLabels, true, config.InitializerRange, rng, device));
        Dropout = RegisterModule("dropout", new Dropout(config.ClassifierDropout ?? config.HiddenDropoutProb));
    }

    public ElectraConfig Config { get; }
    public int NumLabels { get; }
    public ElectraModel Electra { get; }
    public Linear Dense { get; }
    public Linear OutProj { get; }
    public Dropout Dropout { get; }

    /// <summary>ids, typeIds, attentionMask [B, T] → logits [B, labels].</summary>
    public Tensor Forward(Tensor ids, Tensor typeIds, Tensor attentionMask)
    {
        int b = ids.Shape[0], t = ids.Shape[1];
        var hidden = Electra.Forward(ids, typeIds, attentionMask);                 // [B·T, H]
        var clsRows = ClsRows(b, t, ids.Device);
        var cls = Ops.GatherRows(hidden, clsRows);                                 // [B, H]
        var x = Dense.ForwardGelu(Dropout.Forward(cls));
        return OutProj.Forward(Dropout.Forward(x));
    }

    private Tensor ClsRows(int b, int t, Device device) => Tensor.FromArray(Enumerable.Range(0, b).Select(i => i * t).ToArray(), [b], device);
}
