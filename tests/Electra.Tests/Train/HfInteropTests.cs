using System.Text.Json.Nodes;
using Electra.IO;
using Electra.Model;
using Electra.Model.Checkpoints;
using Electra.Nn;
using Electra.Train;

namespace Electra.Tests.Train;

using Tensor = Electra.Tensor;

/// <summary>
/// Every architecture we read, written under HF's names (split Q/K/V, the architecture's prefixes and extra heads,
/// position_ids buffers) and loaded back into a model initialised from another seed: every tensor must come back.
/// </summary>
public class HfInteropTests
{
    private string _dir = "";

    [SetUp]
    public void CreateDir() => _dir = TestData.TempDir();

    [TearDown]
    public void DeleteDir() => Directory.Delete(_dir, recursive: true);

    /// <summary>E ≠ H, so embeddings_project is part of every ELECTRA round trip.</summary>
    internal static ElectraConfig Electra3 => new()
    {
        VocabSize = 40, EmbeddingSize = 12, HiddenSize = 16, NumHiddenLayers = 3, NumAttentionHeads = 2, IntermediateSize = 24, MaxPositionEmbeddings = 20,
    };

    /// <summary>BERT: E = H, no projection.</summary>
    private static ElectraConfig Bert2 => new()
    {
        VocabSize = 40, EmbeddingSize = 16, HiddenSize = 16, NumHiddenLayers = 2, NumAttentionHeads = 2, IntermediateSize = 24, MaxPositionEmbeddings = 20,
    };

    private static ElectraModel Body(ElectraConfig c, int seed) => new(c, new ElectraEmbeddings(c, new Random(seed), Device.Cpu), new Random(seed + 1), Device.Cpu);

    private static Tensor RandomTensor(int seed, params int[] shape) =>
        TensorScope.Outside(() => Tensor.FromArray(TestData.RandomFloats(shape.Aggregate(1, (a, b) => a * b), seed), new Shape(shape)));

    /// <summary>model.safetensors from (name, tensor) pairs and a config.json; disposes the temporary tensors.</summary>
    private string WriteDir(string name, IEnumerable<(string Name, Tensor Tensor)> tensors, string configJson, Module? owner = null)
    {
        var dir = Path.Combine(_dir, name);
        Directory.CreateDirectory(dir);
        var list = tensors.ToList();
        SafetensorsWriter.Write(Path.Combine(dir, HfCheckpoint.WeightsFile), list);
        var own = owner?.Parameters().ToHashSet(ReferenceEqualityComparer.Instance) ?? [];
        foreach (var (_, t) in list) if (!own.Contains(t)) t.Dispose();
        File.WriteAllText(Path.Combine(dir, HfCheckpoint.ConfigFile), configJson);
        return dir;
    }

    private static string ElectraConfigJson(ElectraConfig c, string architecture) => (c with { Architectures = [architecture] }).ToJson();

    /// <summary>A BERT config.json as HF writes it: model_type bert, no embedding_size.</summary>
    private static string BertConfigJson(ElectraConfig c, string architecture)
    {
        var o = (JsonObject)JsonNode.Parse((c with { Architectures = [architecture] }).ToJson())!;
        o.Remove("embedding_size");
        o["model_type"] = "bert";
        return o.ToJsonString();
    }

    private static (string, Tensor) PositionIds(string prefix, int n) =>
        (prefix + "embeddings.position_ids", TensorScope.Outside(() => Tensor.FromArray(Enumerable.Range(0, n).ToArray(), [1, n])));

    private static void AssertSameTensors(Module expected, Module actual)
    {
        var a = expected.NamedParameters().ToList();
        var b = actual.NamedParameters().ToDictionary(p => p.Name, p => p.Tensor);
        Assert.That(b.Keys, Is.EquivalentTo(a.Select(p => p.Name)));
        foreach (var (name, t) in a)
            Assert.That(b[name].ToFloatArray(), Is.EqualTo(t.ToFloatArray()), name);
    }

    [Test]
    public void ElectraForPreTrainingRoundTripsWholeAndAsEncoder()
    {
        var c = Electra3;
        using var source = new Discriminator(c, new ElectraEmbeddings(c, new Random(1), Device.Cpu), new Random(2), Device.Cpu);
        var dir = WriteDir("disc", HfNames.Export(source).Append(PositionIds("electra.", c.MaxPositionEmbeddings)), ElectraConfigJson(c, "ElectraForPreTraining"), source);
        using (var whole = ModelLoading.LoadDiscriminator(dir, Device.Cpu))
            AssertSameTensors(source, whole);
        var (body, info) = ModelLoading.LoadEncoder(dir, Device.Cpu);
        using (body)
        {
            Assert.That(info.Architecture, Is.EqualTo("ElectraForPreTraining"));
            Assert.That(body.Projection, Is.Not.Null);
            AssertSameTensors(source.Electra, body);
        }
    }

    [Test]
    public void ElectraForMaskedLMRoundTripsWithItsTiedHead()
    {
        var c = Electra3;
        using var source = new Generator(c, new ElectraEmbeddings(c, new Random(3), Device.Cpu), new Random(4), Device.Cpu);
        source.LmBias.Backend.CopyFromHost(System.Runtime.InteropServices.MemoryMarshal.AsBytes(TestData.RandomFloats(c.VocabSize, 5).AsSpan()), source.LmBias);
        // HF keeps the tied decoder weight as its own tensor name; it is the word embeddings again.
        var tensors = HfNames.Export(source).Append(("generator_lm_head.weight", source.LmWeight));
        var dir = WriteDir("gen", tensors, ElectraConfigJson(c, "ElectraForMaskedLM"), source);
        using var loaded = new Generator(c, new ElectraEmbeddings(c, new Random(30), Device.Cpu), new Random(31), Device.Cpu);
        HfCheckpoint.Load(dir, loaded);
        AssertSameTensors(source, loaded);
        Assert.That(ReferenceEquals(loaded.LmWeight, loaded.Electra.Embeddings.WordEmbeddings.Weight), Is.True, "lm head re-tied to the word embeddings");
        var (body, _) = ModelLoading.LoadEncoder(dir, Device.Cpu);
        using (body) AssertSameTensors(source.Electra, body);
    }

    [Test]
    public void BareElectraModelRoundTrips()
    {
        var c = Electra3;
        using var source = Body(c, 6);
        var names = HfNames.Export(source).ToList();
        Assert.That(names.Select(n => n.Name), Has.Some.StartWith("embeddings.").And.Some.StartWith("encoder.layer.2.attention.self.value."));
        var dir = WriteDir("model", names.Append(PositionIds("", c.MaxPositionEmbeddings)), ElectraConfigJson(c, "ElectraModel"), source);
        var (body, info) = ModelLoading.LoadEncoder(dir, Device.Cpu);
        using (body)
        {
            Assert.That(info.Architecture, Is.EqualTo("ElectraModel"));
            AssertSameTensors(source, body);
        }
    }

    [Test]
    public void SequenceClassifierSavesAsHfAndLoadsBack()
    {
        var c = Electra3;
        using var source = new SequenceClassifier(c with { Architectures = ["ElectraForSequenceClassification"] }, 3, new Random(7), Device.Cpu);
        var dir = Path.Combine(_dir, "cls");
        ClassifierCheckpoint.Save(dir, source, ["entailment", "neutral", "contradiction"], "mnli");

        using (var file = SafetensorsFile.Open(Path.Combine(dir, HfCheckpoint.WeightsFile)))
        {
            Assert.That(file.Names, Does.Contain("electra.encoder.layer.0.attention.self.query.weight"));
            Assert.That(file.Names, Does.Contain("electra.embeddings_project.weight"));
            Assert.That(file.Names, Does.Contain("classifier.dense.weight"));
            Assert.That(file.Info("classifier.out_proj.weight").Shape, Is.EqualTo(new Shape(3, 16)));
            Assert.That(file.Names, Has.None.Contains("qkv"));
        }
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, HfCheckpoint.ConfigFile)))!;
        Assert.That(config["architectures"]![0]!.GetValue<string>(), Is.EqualTo("ElectraForSequenceClassification"));
        Assert.That(config["num_labels"]!.GetValue<int>(), Is.EqualTo(3));
        Assert.That(config["id2label"]!["1"]!.GetValue<string>(), Is.EqualTo("neutral"));
        Assert.That(config["label2id"]!["contradiction"]!.GetValue<int>(), Is.EqualTo(2));
        Assert.That(config["problem_type"]!.GetValue<string>(), Is.EqualTo("single_label_classification"));
        Assert.That(config["finetuning_task"]!.GetValue<string>(), Is.EqualTo("mnli"));

        var (loaded, info) = ModelLoading.LoadClassifier(dir, Device.Cpu);
        using (loaded)
        {
            Assert.That(info.Labels, Is.EqualTo(new[] { "entailment", "neutral", "contradiction" }));
            Assert.That(loaded.NumLabels, Is.EqualTo(3));
            AssertSameTensors(source, loaded);
        }
        // The classifier's encoder also serves as a body for another fine-tune or for embed.
        var (body, _) = ModelLoading.LoadEncoder(dir, Device.Cpu);
        using (body) AssertSameTensors(source.Electra, body);
    }

    [Test]
    public void RegressionClassifierConfigSaysRegression()
    {
        var c = Electra3;
        using var source = new SequenceClassifier(c, 1, new Random(8), Device.Cpu);
        var dir = Path.Combine(_dir, "stsb");
        ClassifierCheckpoint.Save(dir, source, ["score"], "stsb");
        var info = HfModelDir.Read(dir);
        Assert.That(info.ProblemType, Is.EqualTo("regression"));
        Assert.That(info.NumLabels, Is.EqualTo(1));
    }

    [Test]
    public void BertBodyWithBareNamesLoadsIntoTheEncoder()
    {
        var c = Bert2;
        using var source = Body(c, 9);
        Assert.That(source.Projection, Is.Null);
        var tensors = HfNames.Export(source)
            .Append(("pooler.dense.weight", RandomTensor(10, 16, 16)))
            .Append(("pooler.dense.bias", RandomTensor(11, 16)))
            .Append(PositionIds("", c.MaxPositionEmbeddings));
        var dir = WriteDir("bert", tensors, BertConfigJson(c, "BertModel"), source);
        var (body, info) = ModelLoading.LoadEncoder(dir, Device.Cpu);
        using (body)
        {
            Assert.That(info.IsBert, Is.True);
            Assert.That(info.Config.EmbeddingSize, Is.EqualTo(16), "BERT's config has no embedding_size: E = H");
            Assert.That(body.Projection, Is.Null);
            AssertSameTensors(source, body);
        }
    }

    [Test]
    public void BertForPreTrainingBodyWithHeadsFeedsAFineTune()
    {
        var c = Bert2;
        using var source = Body(c, 12);
        var tensors = HfNames.Export(source, "bert.")
            .Append(("bert.pooler.dense.weight", RandomTensor(13, 16, 16)))
            .Append(("bert.pooler.dense.bias", RandomTensor(14, 16)))
            .Append(("cls.predictions.bias", RandomTensor(15, 40)))
            .Append(("cls.predictions.transform.dense.weight", RandomTensor(16, 16, 16)))
            .Append(("cls.predictions.transform.LayerNorm.weight", RandomTensor(17, 16)))
            .Append(("cls.seq_relationship.weight", RandomTensor(18, 2, 16)))
            .Append(PositionIds("bert.", c.MaxPositionEmbeddings));
        var dir = WriteDir("bert-pt", tensors, BertConfigJson(c, "BertForPreTraining"), source);
        var (classifier, _) = ModelLoading.ClassifierFromEncoder(dir, 2, Device.Cpu, seed: 1);
        using (classifier) AssertSameTensors(source, classifier.Electra);
    }

    [Test]
    public void BertWithLegacyGammaBetaNamesLoads()
    {
        var c = Bert2;
        using var source = Body(c, 19);
        var tensors = HfNames.Export(source, "bert.").Select(p =>
            (p.Name.Replace("LayerNorm.weight", "LayerNorm.gamma").Replace("LayerNorm.bias", "LayerNorm.beta"), p.Tensor));
        var dir = WriteDir("bert-mlm", tensors, BertConfigJson(c, "BertForMaskedLM"), source);
        var (body, _) = ModelLoading.LoadEncoder(dir, Device.Cpu);
        using (body) AssertSameTensors(source, body);
    }

    // ---- errors -------------------------------------------------------------------------------------------------

    [Test]
    public void MissingTensorIsNamed()
    {
        var c = Electra3;
        using var source = Body(c, 20);
        var tensors = HfNames.Export(source, "electra.").Where(p => p.Name != "electra.encoder.layer.1.intermediate.dense.bias");
        var dir = WriteDir("missing", tensors, ElectraConfigJson(c, "ElectraForPreTraining"), source);
        var e = Assert.Throws<CheckpointMismatchException>(() => ModelLoading.LoadEncoder(dir, Device.Cpu));
        Assert.That(e!.Message, Does.Contain("missing tensor 'encoder.layer.1.intermediate.dense.bias'"));
    }

    [Test]
    public void MisShapedTensorIsNamedWithBothShapes()
    {
        var c = Electra3;
        using var source = Body(c, 21);
        var dir = WriteDir("shape", HfNames.Export(source, "electra."), ElectraConfigJson(c with { IntermediateSize = 20 }, "ElectraForPreTraining"), source);
        var e = Assert.Throws<CheckpointMismatchException>(() => ModelLoading.LoadEncoder(dir, Device.Cpu));
        Assert.That(e!.Message, Does.Contain("'electra.encoder.layer.0.intermediate.dense.weight' has shape [24, 16], the model needs [20, 16]"));
    }

    [Test]
    public void ExtraLayerInsideTheBodyIsUnexpected()
    {
        var c = Electra3;
        using var source = Body(c, 22);
        var dir = WriteDir("extra", HfNames.Export(source, "electra."), ElectraConfigJson(c with { NumHiddenLayers = 2 }, "ElectraForPreTraining"), source);
        var e = Assert.Throws<CheckpointMismatchException>(() => ModelLoading.LoadEncoder(dir, Device.Cpu));
        Assert.That(e!.Message, Does.Contain("unexpected tensor 'electra.encoder.layer.2.output.dense.weight'"));
    }

    [Test]
    public void UnsupportedArchitectureIsRefusedByName()
    {
        var c = Electra3;
        using var source = Body(c, 23);
        var dir = WriteDir("qa", HfNames.Export(source, "electra."), ElectraConfigJson(c, "ElectraForQuestionAnswering"), source);
        var e = Assert.Throws<NotSupportedException>(() => ModelLoading.LoadEncoder(dir, Device.Cpu));
        Assert.That(e!.Message, Does.Contain("'ElectraForQuestionAnswering' is not supported").And.Contain("BertModel"));
    }

    [Test]
    public void PyTorchPickleGetsAConversionHint()
    {
        var dir = Path.Combine(_dir, "pt");
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, HfCheckpoint.ConfigFile), ElectraConfigJson(Electra3, "ElectraForPreTraining"));
        File.WriteAllBytes(Path.Combine(dir, "pytorch_model.bin"), [0x80, 0x02]);
        var e = Assert.Throws<NotSupportedException>(() => ModelLoading.LoadEncoder(dir, Device.Cpu));
        Assert.That(e!.Message, Does.Contain("pytorch_model.bin").And.Contain("safe_serialization=True"));
    }

    [Test]
    public void EvaluatingAPretrainingCheckpointSaysWhatIsNeeded()
    {
        var c = Electra3;
        using var source = Body(c, 24);
        var dir = WriteDir("notcls", HfNames.Export(source, "electra."), ElectraConfigJson(c, "ElectraForPreTraining"), source);
        var e = Assert.Throws<NotSupportedException>(() => ModelLoading.LoadClassifier(dir, Device.Cpu));
        Assert.That(e!.Message, Does.Contain("ElectraForPreTraining").And.Contain("electra finetune"));
    }
}
