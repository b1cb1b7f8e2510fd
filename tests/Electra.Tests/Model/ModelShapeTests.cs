using Electra.Model;

namespace Electra.Tests.Model;

public class ModelShapeTests
{
    [Test]
    public void SmallPresetHasThePapersParameterCounts()
    {
        using var model = new Pretrainer(ElectraConfig.Small, null, new PretrainOptions(), Device.Cpu);
        long embeddings = model.Embeddings.ParameterCount();
        long discriminator = model.Discriminator!.ParameterCount();
        Assert.That(embeddings, Is.EqualTo(3_972_864));
        Assert.That(discriminator, Is.EqualTo(13_549_057));
        Assert.That(model.GeneratorConfig.HiddenSize, Is.EqualTo(64));
        Assert.That(model.GeneratorConfig.NumAttentionHeads, Is.EqualTo(1));
        Assert.That(model.GeneratorConfig.IntermediateSize, Is.EqualTo(256));
    }

    [Test]
    public void ParameterNamesFollowHuggingFace()
    {
        using var model = new Pretrainer(ElectraConfig.Tiny, null, new PretrainOptions(), Device.Cpu);
        var names = model.Discriminator!.NamedParameters().ToDictionary(p => p.Name, p => p.Tensor.Shape);
        Assert.That(names["electra.embeddings.word_embeddings.weight"], Is.EqualTo(new Shape(30522, 64)));
        Assert.That(names["electra.embeddings.LayerNorm.weight"], Is.EqualTo(new Shape(64)));
        Assert.That(names["electra.embeddings_project.weight"], Is.EqualTo(new Shape(128, 64)));
        Assert.That(names["electra.encoder.layer.1.attention.self.qkv.weight"], Is.EqualTo(new Shape(384, 128)));
        Assert.That(names["electra.encoder.layer.1.attention.output.LayerNorm.bias"], Is.EqualTo(new Shape(128)));
        Assert.That(names["electra.encoder.layer.0.intermediate.dense.weight"], Is.EqualTo(new Shape(512, 128)));
        Assert.That(names["electra.encoder.layer.0.output.dense.weight"], Is.EqualTo(new Shape(128, 512)));
        Assert.That(names["discriminator_predictions.dense_prediction.weight"], Is.EqualTo(new Shape(1, 128)));
        var gen = model.Generator.NamedParameters().ToDictionary(p => p.Name, p => p.Tensor.Shape);
        Assert.That(gen["generator_predictions.LayerNorm.weight"], Is.EqualTo(new Shape(64)));
        Assert.That(gen["generator_predictions.dense.weight"], Is.EqualTo(new Shape(64, 32)));
        Assert.That(gen["generator_lm_head.bias"], Is.EqualTo(new Shape(30522)));
        Assert.That(ReferenceEquals(model.Generator.LmWeight, model.Discriminator.Electra.Embeddings.WordEmbeddings.Weight), Is.True);
    }

    [Test]
    public void PaddingRowOfWordEmbeddingsStartsAtZero()
    {
        using var model = new Pretrainer(ElectraConfig.Tiny, null, new PretrainOptions(), Device.Cpu);
        var w = model.Embeddings.WordEmbeddings.Weight.ToFloatArray();
        Assert.That(w.Take(64), Is.All.EqualTo(0f));
        Assert.That(w.Skip(64).Take(64).Count(v => v != 0f), Is.GreaterThan(60));
    }
}
