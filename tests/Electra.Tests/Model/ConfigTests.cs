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
    [TestCase("""{"hidden_dropout_prob": 1.5}""", "hidden_dropout_prob must be in [0, 1), got 1.5")]
    [TestCase("""{"attention_probs_dropout_prob": -0.1}""", "attention_probs_dropout_prob must be in [0, 1), got -0.1")]
    [TestCase("""{"classifier_dropout": 1}""", "classifier_dropout must be in [0, 1), got 1")]
    [TestCase("""{"position_embedding_type": "relative_key"}""", "position_embedding_type 'relative_key' is not supported (supported: 'absolute')")]
    [TestCase("""{"position_embedding_type": "relative_key_query"}""", "position_embedding_type 'relative_key_query' is not supported (supported: 'absolute')")]
    [TestCase("""{"position_embedding_type": 3}""", "'position_embedding_type' must be a string, got 3")]
    [TestCase("""{"hidden_act": "gelu_new"}""", "hidden_act 'gelu_new' is not supported (supported: gelu, gelu_python, the exact erf GELU)")]
    [TestCase("""{"is_decoder": true}""", "is_decoder true is not supported (supported: false)")]
    [TestCase("""{"is_decoder": "no"}""", "'is_decoder' must be true or false, got \"no\"")]
    [TestCase("""{"add_cross_attention": true}""", "add_cross_attention true is not supported (supported: false)")]
    [TestCase("""{"architectures": ["ElectraForMaskedLM"], "tie_word_embeddings": false}""", "tie_word_embeddings false is not supported (supported: true)")]
    [TestCase("""{"layer_norm_eps": 0}""", "layer_norm_eps must be a positive number, got 0")]
    [TestCase("""{"initializer_range": -0.02}""", "initializer_range must be a non-negative number, got -0.02")]
    [TestCase("""{"model_type": 7}""", "'model_type' must be a string, got 7")]
    public void MalformedConfigsNameTheProblem(string json, string expected)
    {
        var ex = Assert.Throws<InvalidDataException>(() => ElectraConfig.Parse(json, "my/config.json"));
        Assert.That(ex!.Message, Does.StartWith("my/config.json").And.Contain(expected));
    }

    [Test]
    public void AConfigAsHfWritesItParsesAndEveryFieldThatChangesTheNetworkIsChecked()
    {
        // The keys transformers' ElectraConfig writes, with its defaults (and this model's sizes).
        const string hf = """
            {
              "architectures": ["ElectraForPreTraining"], "attention_probs_dropout_prob": 0.1, "classifier_dropout": null,
              "embedding_size": 128, "hidden_act": "gelu", "hidden_dropout_prob": 0.1, "hidden_size": 256,
              "initializer_range": 0.02, "intermediate_size": 1024, "layer_norm_eps": 1e-12, "max_position_embeddings": 512,
              "model_type": "electra", "num_attention_heads": 4, "num_hidden_layers": 12, "pad_token_id": 0,
              "position_embedding_type": "absolute", "summary_activation": "gelu", "summary_last_dropout": 0.1,
              "summary_type": "first", "summary_use_proj": true, "transformers_version": "4.40.0", "type_vocab_size": 2,
              "use_cache": true, "vocab_size": 30522
            }
            """;
        var config = ElectraConfig.Parse(hf);
        Assert.That(config.ToJson(), Is.EqualTo(ElectraConfig.Small.ToJson()));
        Assert.That(config.ClassifierDropout, Is.Null);
        // The summary_* fields belong to HF's multiple-choice and SQuAD heads, which nothing here builds.
        Assert.That(ElectraConfig.Parse(hf.Replace("\"summary_type\": \"first\"", "\"summary_type\": \"mean\"")), Is.Not.Null);
        // A discriminator does not use the tie; a generator does (see MalformedConfigsNameTheProblem).
        Assert.That(ElectraConfig.Parse("""{"architectures": ["ElectraForPreTraining"], "tie_word_embeddings": false}""").HiddenSize, Is.EqualTo(256));
    }

    [Test]
    public void ClassifierDropoutIsReadWrittenAndUsedByTheHead()
    {
        var config = ElectraConfig.Parse("""{"hidden_size": 32, "num_attention_heads": 2, "num_hidden_layers": 1, "intermediate_size": 64, "classifier_dropout": 0.3}""");
        Assert.That(config.ClassifierDropout, Is.EqualTo(0.3f));
        Assert.That(ElectraConfig.Parse(config.ToJson()).ClassifierDropout, Is.EqualTo(0.3f));
        using var classifier = new SequenceClassifier(config, 2, new Random(1), Device.Cpu);
        Assert.That(classifier.Dropout.P, Is.EqualTo(0.3f));
        using var plain = new SequenceClassifier(config with { ClassifierDropout = null }, 2, new Random(1), Device.Cpu);
        Assert.That(plain.Dropout.P, Is.EqualTo(0.1f), "hidden_dropout_prob when classifier_dropout is null, as in HF");
    }

    [Test]
    public void MissingConfigFileIsNamed()
    {
        var ex = Assert.Throws<FileNotFoundException>(() => ElectraConfig.Load("/nonexistent/config.json"));
        Assert.That(ex!.Message, Does.Contain("/nonexistent/config.json"));
    }
}
