using Electra.Model;

namespace Electra.Tests.Model;

public class ConfigTests
{
    [Test]
    public void RoundTripsThroughHfConfigJson()
    {
        var config = ElectraConfig.Small.Generator();
        var back = ElectraConfig.Parse(config.ToJson());
        Assert.That(back.HiddenSize, Is.EqualTo(64));
        Assert.That(back.NumAttentionHeads, Is.EqualTo(1));
        Assert.That(back.IntermediateSize, Is.EqualTo(256));
        Assert.That(back.EmbeddingSize, Is.EqualTo(128));
        Assert.That(back.Architectures, Is.EqualTo(new[] { "ElectraForMaskedLM" }));
        Assert.That(back.LayerNormEps, Is.EqualTo(1e-12f));
    }

    [Test]
    public void BertConfigWithoutEmbeddingSizeUsesHiddenSize()
    {
        var c = ElectraConfig.Parse("""{"model_type": "bert", "hidden_size": 64, "num_attention_heads": 2, "intermediate_size": 128, "num_hidden_layers": 1}""");
        Assert.That(c.EmbeddingSize, Is.EqualTo(64));
    }

    [TestCase("not json", "not valid JSON")]
    [TestCase("[1, 2]", "expected a JSON object")]
    [TestCase("""{"hidden_size": 100, "num_attention_heads": 3}""", "not divisible")]
    [TestCase("""{"hidden_size": "big"}""", "'hidden_size' must be an integer")]
    [TestCase("""{"hidden_act": "relu"}""", "hidden_act 'relu'")]
    [TestCase("""{"model_type": "gpt2"}""", "model_type 'gpt2'")]
    [TestCase("""{"vocab_size": 0}""", "vocab_size must be positive")]
    [TestCase("""{"hidden_dropout_prob": 1.5}""", "dropout")]
    public void MalformedConfigsNameTheProblem(string json, string expected)
    {
        var ex = Assert.Throws<InvalidDataException>(() => ElectraConfig.Parse(json, "my/config.json"));
        Assert.That(ex!.Message, Does.StartWith("my/config.json").And.Contain(expected));
    }

    [Test]
    public void MissingConfigFileIsNamed()
    {
        var ex = Assert.Throws<FileNotFoundException>(() => ElectraConfig.Load("/nonexistent/config.json"));
        Assert.That(ex!.Message, Does.Contain("/nonexistent/config.json"));
    }
}
