using System.CommandLine;
using System.Text.Json.Nodes;
using Electra.Model;
using Electra.Model.Checkpoints;
using Electra.Optim;
using Electra.Tests.Tensor;
using Electra.Train;
using Electra.Train.Commands;
using Electra.Train.Data;
using Electra.Train.FineTuning;
using Electra.Train.Glue;

namespace Electra.Tests.Train;

using Tensor = Electra.Tensor;

public class FineTuneTests
{
    private string _dir = "";

    [SetUp]
    public void CreateDir() => _dir = TestData.TempDir();

    [TearDown]
    public void DeleteDir() => Directory.Delete(_dir, recursive: true);

    // ---- the regression loss ------------------------------------------------------------------------------------

    [TestCase(5)]
    [TestCase(1)]
    [TestCase(33)]
    public void MeanSquaredErrorMatchesReferenceAndFiniteDifferences(int n)
    {
        var p = GradCheck.Uniform(n, 61, 2f);
        var y = GradCheck.Uniform(n, 62, 3f);
        const float upstream = 0.7f;
        static double Reference(double[] a, double[] b) => a.Zip(b, (u, v) => (u - v) * (u - v)).Sum() / a.Length;
        using var scope = new TensorScope();
        var prediction = GradCheck.Leaf(p, [n, 1]);           // the regression head's [B, 1] against scores [B]
        var target = GradCheck.Leaf(y, [n]);
        var loss = Ops.MeanSquaredError(prediction, target);
        Assert.That(loss.Shape, Is.EqualTo(new Shape()));
        GradCheck.AssertForward([loss.Item()], [Reference(GradCheck.ToDouble(p), GradCheck.ToDouble(y))], "MeanSquaredError");
        GradCheck.BackwardWeighted(loss, [upstream]);
        GradCheck.AssertGradients("MeanSquaredError", x => [Reference(x[0], x[1])], [p, y], [upstream],
            (0, GradCheck.TakeGrad(prediction), "prediction"), (1, GradCheck.TakeGrad(target), "target"));
    }

    [Test]
    public void MeanSquaredErrorRejectsMismatchedCounts()
    {
        using var scope = new TensorScope();
        var e = Assert.Throws<ArgumentException>(() => Ops.MeanSquaredError(Tensor.Zeros([4, 1], DType.F32), Tensor.Zeros([3], DType.F32)));
        Assert.That(e!.Message, Does.Contain("[4, 1]").And.Contain("[3]"));
    }

    // ---- layer-wise learning rates ------------------------------------------------------------------------------

    [Test]
    public void LayerwiseRatesOfAThreeLayerModel()
    {
        // Head lr, layer 2 (top) lr·d, layer 1 lr·d², layer 0 lr·d³, embeddings and embeddings_project lr·d⁴.
        // The reference code's off-by-one would give the top layer d² and the embeddings d⁵.
        const float d = 0.8f;
        using var model = new SequenceClassifier(HfInteropTests.Electra3, 2, new Random(1), Device.Cpu);
        var groups = LayerwiseLr.Groups(model.NamedParameters(), 3, d, 0.01f);
        var byName = groups.SelectMany(g => g.Params.Select(p => (p.Name, g.LrScale, g.WeightDecay))).ToList();
        Assert.That(byName.Select(p => p.Name), Is.EquivalentTo(model.NamedParameters().Select(p => p.Name)), "every parameter exactly once");
        float Expected(string name) =>
            name.StartsWith("classifier.") ? 1f
            : name.StartsWith("electra.encoder.layer.2.") ? d
            : name.StartsWith("electra.encoder.layer.1.") ? d * d
            : name.StartsWith("electra.encoder.layer.0.") ? d * d * d
            : name.StartsWith("electra.embeddings.") || name.StartsWith("electra.embeddings_project.") ? d * d * d * d
            : float.NaN;
        foreach (var (name, scale, wd) in byName)
        {
            Assert.That(scale, Is.EqualTo(Expected(name)).Within(1e-6f), name);
            bool noDecay = name.Contains("LayerNorm") || name.EndsWith("bias");
            Assert.That(wd, Is.EqualTo(noDecay ? 0f : 0.01f), name + " weight decay");
        }
        Assert.That(byName.Single(p => p.Name == "electra.embeddings_project.weight").LrScale, Is.EqualTo(0.4096f).Within(1e-6f));
        Assert.That(byName.Single(p => p.Name == "electra.encoder.layer.2.attention.self.qkv.weight").LrScale, Is.EqualTo(0.8f).Within(1e-6f));
        Assert.That(LayerwiseLr.Exponent("classifier.out_proj.bias", 3), Is.Zero);
        Assert.That(LayerwiseLr.Exponent("electra.encoder.layer.0.output.LayerNorm.weight", 3), Is.EqualTo(3));
        Assert.That(LayerwiseLr.Exponent("electra.embeddings.word_embeddings.weight", 3), Is.EqualTo(4));
    }

    [Test]
    public void OptimizerStepsEachLayerAtItsOwnRate()
    {
        // Adam's first bias-corrected step moves every weight by lr·scale·g/(|g|+ε) ≈ ±lr·scale: the step size
        // read back per parameter is its learning rate.
        const float lr = 1e-2f, d = 0.5f;
        using var model = new SequenceClassifier(HfInteropTests.Electra3, 2, new Random(2), Device.Cpu);
        using var optimizer = new AdamW(LayerwiseLr.Groups(model.NamedParameters(), 3, d, 0f), eps: 1e-12f, biasCorrection: true);
        var before = model.NamedParameters().ToDictionary(p => p.Name, p => p.Tensor.ToFloatArray());
        int seed = 100;
        foreach (var (_, p) in model.NamedParameters())
            p.Grad = TensorScope.Outside(() => Tensor.FromArray(TestData.RandomFloats((int)p.Count, seed++).Select(v => v + MathF.Sign(v)).ToArray(), p.Shape));
        optimizer.Step(lr);
        foreach (var (name, p) in model.NamedParameters())
        {
            float expected = lr * MathF.Pow(d, LayerwiseLr.Exponent(name, 3));
            var after = p.ToFloatArray();
            double step = after.Zip(before[name], (a, b) => Math.Abs(a - b)).Max();
            Assert.That(step, Is.EqualTo(expected).Within(expected * 1e-3), name);
        }
        model.ZeroGrad();
    }

    // ---- input encoding -----------------------------------------------------------------------------------------

    [Test]
    public void PairsAreClsASepBSepWithTokenTypes()
    {
        var e = PairEncoder.Build([10, 11], [20, 21, 22], 1, 2, 16, 1, 0f);
        Assert.That(e.Ids, Is.EqualTo(new[] { 1, 10, 11, 2, 20, 21, 22, 2 }));
        Assert.That(e.TypeIds, Is.EqualTo(new[] { 0, 0, 0, 0, 1, 1, 1, 1 }));
        var single = PairEncoder.Build([10, 11, 12, 13, 14, 15], null, 1, 2, 6, 0, 0f);
        Assert.That(single.Ids, Is.EqualTo(new[] { 1, 10, 11, 12, 13, 2 }));
        Assert.That(single.TypeIds, Is.All.Zero);
    }

    [Test]
    public void TheLongerSegmentIsTruncatedFirst()
    {
        var e = PairEncoder.Build([.. Enumerable.Range(100, 10)], [20, 21, 22], 1, 2, 10, 0, 0f);
        Assert.That(e.Ids, Is.EqualTo(new[] { 1, 100, 101, 102, 103, 2, 20, 21, 22, 2 }));
        // Equal lengths: B loses the tie, then they alternate.
        var tie = PairEncoder.Build([10, 11, 12, 13, 14], [20, 21, 22, 23, 24], 1, 2, 9, 0, 0f);
        Assert.That(tie.Ids, Is.EqualTo(new[] { 1, 10, 11, 12, 2, 20, 21, 22, 2 }));
    }

    [Test]
    public void BatchesPadToTheirLongestExampleAndMaskPadding()
    {
        using var scope = new TensorScope();
        using var batch = new FineTuneBatch([new EncodedExample([1, 5, 2], [0, 0, 0], 1, 0f), new EncodedExample([1, 6, 2, 7, 2], [0, 0, 0, 1, 1], 0, 0f)], 0, false, Device.Cpu);
        Assert.That((batch.B, batch.T), Is.EqualTo((2, 5)));
        Assert.That(batch.Ids.ToIntArray(), Is.EqualTo(new[] { 1, 5, 2, 0, 0, 1, 6, 2, 7, 2 }));
        Assert.That(batch.Mask.ToIntArray(), Is.EqualTo(new[] { 1, 1, 1, 0, 0, 1, 1, 1, 1, 1 }));
        Assert.That(batch.TypeIds.ToIntArray(), Is.EqualTo(new[] { 0, 0, 0, 0, 0, 0, 0, 0, 1, 1 }));
        Assert.That(batch.Labels!.ToIntArray(), Is.EqualTo(new[] { 1, 0 }));
    }

    // ---- learning -----------------------------------------------------------------------------------------------

    private static ElectraConfig SyntheticConfig => new()
    {
        VocabSize = 32, EmbeddingSize = 16, HiddenSize = 32, NumHiddenLayers = 2, NumAttentionHeads = 2, IntermediateSize = 64, MaxPositionEmbeddings = 16,
    };

    /// <summary>
    /// Label 1 when the sentence's "topic" tokens come from 5..11, label 0 when from 12..18, with noise tokens 19..30
    /// shared by both; a pair task puts the topic in segment B only, so the head must look past [CLS] and A.
    /// </summary>
    private static List<EncodedExample> Synthetic(int count, int seed, bool pair)
    {
        var rng = new Random(seed);
        var result = new List<EncodedExample>();
        for (int i = 0; i < count; i++)
        {
            int label = rng.Next(2);
            var topic = Enumerable.Range(0, 3).Select(_ => (label == 1 ? 5 : 12) + rng.Next(7)).ToList();
            var noise = Enumerable.Range(0, 1 + rng.Next(4)).Select(_ => 19 + rng.Next(12)).ToList();
            var tokens = topic.Concat(noise).OrderBy(_ => rng.Next()).ToList();
            result.Add(pair
                ? PairEncoder.Build(Enumerable.Range(0, 2).Select(_ => 19 + rng.Next(12)).ToList(), tokens, 1, 2, 16, label, 0f)
                : PairEncoder.Build(tokens, null, 1, 2, 16, label, 0f));
        }
        return result;
    }

    [Test]
    public void TinyModelLearnsASeparableTaskAndSavesTheBestEpoch()
    {
        var train = Synthetic(640, 1, pair: true);
        var dev = Synthetic(200, 2, pair: true);
        using var model = new SequenceClassifier(SyntheticConfig, 2, new Random(3), Device.Cpu);
        var settings = new FineTuneSettings { Epochs = 3, Lr = 3e-3f, Batch = 32, Seed = 4, OutDir = Path.Combine(_dir, "run") };
        using var runner = new FineTuneRunner(model, GlueTask.Rte, train, dev, padId: 0, settings);
        Assert.That((runner.TotalSteps, runner.WarmupSteps), Is.EqualTo((60L, 6L)));
        var result = runner.Run();

        Assert.That(result.Best.MainScore, Is.GreaterThanOrEqualTo(0.95), $"dev accuracy per epoch: {string.Join(", ", result.PerEpoch.Select(e => e.MainScore))}");
        Assert.That(result.Best.MainScore, Is.EqualTo(result.PerEpoch.Max(e => e.MainScore)));

        // The saved best model scores what the run said it scored.
        var (saved, info) = ModelLoading.LoadClassifier(settings.OutDir!, Device.Cpu);
        using (saved)
        {
            Assert.That(info.FinetuningTask, Is.EqualTo("rte"));
            Assert.That(info.Labels, Is.EqualTo(new[] { "entailment", "not_entailment" }));
            var again = Predictor.Evaluate(saved, GlueTask.Rte, dev, 64, 0);
            Assert.That(again.MainScore, Is.EqualTo(result.Best.MainScore));
        }

        // metrics.jsonl: loss and lr every 10 steps, dev metrics once per epoch.
        var rows = File.ReadAllLines(Path.Combine(settings.OutDir!, "metrics.jsonl")).Select(l => JsonNode.Parse(l)!).ToList();
        Assert.That(rows.Count(r => r["loss"] is not null), Is.EqualTo(6));
        var epochs = rows.Where(r => r["dev_accuracy"] is not null).ToList();
        Assert.That(epochs.Select(r => r["epoch"]!.GetValue<int>()), Is.EqualTo(new[] { 1, 2, 3 }));
        Assert.That(epochs.Select(r => r["step"]!.GetValue<int>()), Is.EqualTo(new[] { 20, 40, 60 }));
        var firstLoss = rows.First(r => r["loss"] is not null)["loss"]!.GetValue<double>();
        var lastLoss = rows.Last(r => r["loss"] is not null)["loss"]!.GetValue<double>();
        Assert.That(lastLoss, Is.LessThan(firstLoss * 0.5));
        var best = JsonNode.Parse(File.ReadAllText(Path.Combine(settings.OutDir!, "best.json")))!;
        Assert.That(best["epoch"]!.GetValue<int>(), Is.EqualTo(result.BestEpoch));
    }

    [Test]
    public void RegressionHeadFitsScores()
    {
        // STS-B style: the score is 5 × (fraction of topic tokens from the high set); MSE training must correlate.
        var rng = new Random(5);
        List<EncodedExample> Make(int n) => Enumerable.Range(0, n).Select(_ =>
        {
            int high = rng.Next(5);
            var tokens = Enumerable.Range(0, 4).Select(k => k < high ? 5 + rng.Next(7) : 12 + rng.Next(7)).OrderBy(_ => rng.Next()).ToList();
            return PairEncoder.Build(tokens, null, 1, 2, 16, -1, 5f * high / 4f);
        }).ToList();
        var train = Make(480);
        var dev = Make(120);
        using var model = new SequenceClassifier(SyntheticConfig, 1, new Random(6), Device.Cpu);
        using var runner = new FineTuneRunner(model, GlueTask.Stsb, train, dev, 0, new FineTuneSettings { Epochs = 4, Lr = 5e-3f, Batch = 16, Seed = 7 });
        var result = runner.Run();
        var pearson = result.Best.Metrics.Single(m => m.Name == "pearson").Value;
        TestContext.Out.WriteLine($"pearson per epoch {string.Join(", ", result.PerEpoch.Select(e => e.Metrics[0].Value.ToString("F3")))}");
        Assert.That(pearson, Is.GreaterThan(0.9), $"pearson per epoch: {string.Join(", ", result.PerEpoch.Select(e => e.Metrics[0].Value))}");
    }

    [Test]
    public void Sst2ShortFineTuneBeatsTheMajorityClass()
    {
        // A randomly initialised tiny encoder (nothing pretrained, so no layer decay: there is nothing to protect)
        // trained for five epochs on 1,000 SST-2 phrases; it must beat always answering the majority class. It
        // answers the majority class for the first two epochs or so: at 5e-3 for three epochs most initialisation
        // seeds never left it, at 2e-3 for five every seed tried (8, 1, 2, 3) reached 0.65–0.70.
        var data = Path.GetDirectoryName(TestData.RequireShared("sst2/train.tsv"))!;
        var tokenizer = WordPieceTokenizer.Load();
        var train = PairEncoder.EncodeAll(tokenizer, GlueReader.ReadSplit(GlueTask.Sst2, data, dev: false).Examples.Take(1000), 48);
        var dev = PairEncoder.EncodeAll(tokenizer, GlueReader.ReadSplit(GlueTask.Sst2, data, dev: true).Examples.Take(800), 48);
        var config = new ElectraConfig
        {
            VocabSize = tokenizer.VocabSize, EmbeddingSize = 32, HiddenSize = 64, NumHiddenLayers = 2, NumAttentionHeads = 2, IntermediateSize = 128, MaxPositionEmbeddings = 48,
        };
        using var model = new SequenceClassifier(config, 2, new Random(8), Device.Cpu);
        using var runner = new FineTuneRunner(model, GlueTask.Sst2, train, dev, tokenizer.PadId,
            new FineTuneSettings { Epochs = 5, Lr = 2e-3f, LayerDecay = 1f, Batch = 16, Seed = 9 });
        var result = runner.Run();
        double positive = dev.Count(e => e.Label == 1) / (double)dev.Count;
        double majority = Math.Max(positive, 1 - positive);
        TestContext.Out.WriteLine($"SST-2 dev accuracy per epoch {string.Join(", ", result.PerEpoch.Select(e => e.MainScore.ToString("F3")))}; majority {majority:F3}");
        Assert.That(result.Best.MainScore, Is.GreaterThan(majority + 0.03),
            $"majority {majority:F3}; dev accuracy per epoch: {string.Join(", ", result.PerEpoch.Select(e => e.MainScore.ToString("F3")))}");
    }

    // ---- the command line ---------------------------------------------------------------------------------------

    internal static (int Code, string Out, string Error) Cli(params string[] args)
    {
        var root = new RootCommand();
        foreach (var c in CommandList.All()) root.Subcommands.Add(c);
        var (originalOut, originalError) = (Console.Out, Console.Error);
        var (stdout, stderr) = (new StringWriter(), new StringWriter());
        try
        {
            Console.SetOut(stdout);
            Console.SetError(stderr);
            int code = root.Parse(args).Invoke();
            return (code, stdout.ToString(), stderr.ToString());
        }
        finally
        {
            Console.SetOut(originalOut);
            Console.SetError(originalError);
        }
    }

    [Test]
    public void FinetuneRejectsBadArgumentsByName()
    {
        var (code, _, error) = Cli("finetune", "--model", _dir, "--task", "squad", "--data", _dir, "--out", _dir);
        Assert.That(code, Is.EqualTo(1));
        Assert.That(error, Does.Contain("unknown GLUE task 'squad'"));

        (code, _, error) = Cli("finetune", "--model", _dir, "--task", "sst2", "--data", _dir, "--out", _dir, "--layer-decay", "1.5");
        Assert.That(code, Is.EqualTo(1));
        Assert.That(error, Does.Contain("--layer-decay must be in (0, 1], got 1.5"));

        (code, _, error) = Cli("finetune", "--model", _dir, "--task", "sst2", "--data", _dir, "--out", _dir, "--epochs", "0");
        Assert.That((code, error.Contains("--epochs must be at least 1")), Is.EqualTo((1, true)));

        (code, _, error) = Cli("finetune", "--model", _dir, "--task", "sst2", "--data", _dir, "--out", Path.Combine(_dir, "o"));
        Assert.That(code, Is.EqualTo(1));
        Assert.That(error, Does.Contain("train.tsv not found"));

        (code, _, _) = Cli("finetune", "--task", "sst2", "--data", _dir, "--out", _dir);
        Assert.That(code, Is.Not.Zero, "--model is required");
    }

    [Test]
    public void EvaluateAndEmbedFailClearly()
    {
        var (code, _, error) = Cli("evaluate", "--model", Path.Combine(_dir, "none"), "--task", "sst2", "--data", Path.Combine(_dir, "dev.tsv"), "--device", "cpu");
        Assert.That(code, Is.EqualTo(1));
        Assert.That(error, Does.Contain("no fine-tuned model found"));

        (code, _, error) = Cli("embed", "--model", _dir, "--text", "one", "--pairs", "--device", "cpu");
        Assert.That(code, Is.EqualTo(1));
        Assert.That(error, Does.Contain("--pairs needs at least two --text values"));

        (code, _, error) = Cli("embed", "--model", _dir, "--text", "one", "--device", "cpu");
        Assert.That(code, Is.EqualTo(1));
        Assert.That(error, Does.Contain("no model found"));
    }
}
