using Electra.IO;
using Electra.Model;
using Electra.Train;
using Electra.Train.Commands;
using Electra.Train.Data;
using Electra.Train.FineTuning;
using Electra.Train.Glue;
using Electra.Train.Pretraining;

namespace Electra.Tests.Train;

/// <summary>
/// --precision end to end: the default per device, refusals, the checkpoint's trainer state keeping it across a
/// resume, and bf16-trained weights read back in fp32. The bf16 runs need a CUDA device (the simulator in CI).
/// </summary>
[NonParallelizable]
public class PrecisionTests
{
    private static readonly Lazy<WordPieceTokenizer> Bert = new(() => WordPieceTokenizer.Load());
    private string _dir = "";
    private string _shards = "";

    // Head sizes the CUDA attention kernels take: 64 in the discriminator, 32 in the generator.
    private static ElectraConfig Small => new()
    {
        EmbeddingSize = 32, HiddenSize = 64, NumHiddenLayers = 1, NumAttentionHeads = 1, IntermediateSize = 128, MaxPositionEmbeddings = 64,
    };

    private static ElectraConfig SmallGenerator => Small with { HiddenSize = 32, NumAttentionHeads = 1, IntermediateSize = 64 };

    private static SpecialTokens Special => new(Bert.Value.PadId, Bert.Value.UnkId, Bert.Value.ClsId, Bert.Value.SepId, Bert.Value.MaskId);

    [OneTimeSetUp]
    public void PrepareCorpus()
    {
        _dir = TestData.TempDir();
        _shards = MicroRun.Shards(_dir, "shards", Bert.Value, corpusSeed: 5, documents: 10, sentences: 30);
    }

    [OneTimeTearDown]
    public void Clean()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    private PretrainSettings Settings(string name, Precision? precision, long steps = 4) => new()
    {
        Preset = "test", Steps = steps, Batch = 4, Seq = 32, Lr = 1e-3f, Warmup = 1, LogEvery = 1, SaveEvery = 2,
        Seed = 3, DataDir = _shards, OutDir = Path.Combine(_dir, name), Precision = precision,
    };

    private PretrainRunner Runner(PretrainSettings s, Device device, string? resume = null) => new(s, Small, SmallGenerator, device, Special, resume);

    private static List<string> Metrics(string path) =>
        File.ReadAllLines(path).Select(l => System.Text.RegularExpressions.Regex.Replace(l, "\"tokens_per_s\":[^,}]*", "")).ToList();

    [Test]
    public void TheCpuDefaultsToFp32AndRefusesBf16AndTf32ByName()
    {
        Assert.That(PrecisionChoice.Resolve((string?)null, Device.Cpu), Is.EqualTo(Precision.Fp32));
        Assert.That(PrecisionChoice.Resolve("fp32", Device.Cpu), Is.EqualTo(Precision.Fp32));
        foreach (var p in new[] { "bf16", "tf32" })
        {
            var e = Assert.Throws<ArgumentException>(() => PrecisionChoice.Resolve(p, Device.Cpu));
            Assert.That(e!.Message, Does.Contain($"--precision {p}").And.Contain("CPU").And.Contain("--precision fp32"));
        }
    }

    [Test]
    public void ACpuRunStoresFp32AndABf16CheckpointResumesOnTheCpuOnlyWhenAskedForFp32()
    {
        var s = Settings("cpu", precision: null, steps: 2);
        using (var run = Runner(s, Device.Cpu))
        {
            Assert.That(run.Precision, Is.EqualTo(Precision.Fp32), "the CPU's default");
            Assert.That(run.Run(), Is.EqualTo(RunOutcome.Completed));
        }
        var checkpoint = Path.Combine(s.OutDir, "checkpoint");
        var stateFile = Path.Combine(checkpoint, "trainer", "state.json");
        Assert.That(File.ReadAllText(stateFile), Does.Contain("\"precision\": \"fp32\""));
        Assert.That(PretrainCheckpoint.ReadState(checkpoint).Settings.Precision, Is.EqualTo(Precision.Fp32));

        // The same checkpoint as if a bf16 run on a GPU had written it.
        File.WriteAllText(stateFile, File.ReadAllText(stateFile).Replace("\"precision\": \"fp32\"", "\"precision\": \"bf16\""));
        var stored = PretrainCheckpoint.ReadState(checkpoint).Settings with { Steps = 3 };
        Assert.That(stored.Precision, Is.EqualTo(Precision.Bf16));
        var e = Assert.Throws<ArgumentException>(() => Runner(stored, Device.Cpu, checkpoint).Dispose());
        Assert.That(e!.Message, Does.Contain("--precision bf16").And.Contain("--precision fp32"));
        using var fp32 = Runner(stored with { Precision = Precision.Fp32 }, Device.Cpu, checkpoint);
        Assert.That(fp32.Step, Is.EqualTo(2));
        Assert.That(fp32.Run(), Is.EqualTo(RunOutcome.Completed));
    }

    [Test]
    [Category("Gpu")]
    public void ABf16RunDefaultsOnCudaStoresItsPrecisionAndResumesBitIdentically()
    {
        var dev = Electra.Tests.Cuda.Gpu.Dev;
        using (var straight = Runner(Settings("bf16-straight", precision: null), dev))
        {
            Assert.That(straight.Precision, Is.EqualTo(Precision.Bf16), "the default on a device of compute capability ≥ 8.0");
            Assert.That(straight.Run(), Is.EqualTo(RunOutcome.Completed));
        }
        var split = Settings("bf16-split", precision: null);
        using (var first = Runner(split, dev))
            Assert.That(first.Run(stopAt: 2), Is.EqualTo(RunOutcome.Completed));
        var checkpoint = Path.Combine(split.OutDir, "checkpoint");
        var stored = PretrainCheckpoint.ReadState(checkpoint).Settings;
        Assert.That(stored.Precision, Is.EqualTo(Precision.Bf16), "the resolved precision is in the trainer state");
        using (var second = Runner(stored, dev, checkpoint))
        {
            Assert.That(second.Precision, Is.EqualTo(Precision.Bf16));
            Assert.That(second.Run(), Is.EqualTo(RunOutcome.Completed));
        }
        // The copies a resumed run makes from the loaded F32 masters are the ones AdamW had written: nothing differs.
        Assert.That(Metrics(Path.Combine(split.OutDir, "metrics.jsonl")), Is.EqualTo(Metrics(Path.Combine(_dir, "bf16-straight", "metrics.jsonl"))));
        var a = File.ReadAllBytes(Path.Combine(_dir, "bf16-straight", "checkpoint", "discriminator", "model.safetensors"));
        var b = File.ReadAllBytes(Path.Combine(checkpoint, "discriminator", "model.safetensors"));
        Assert.That(b, Is.EqualTo(a), "weights after the resume");
    }

    [Test]
    [Category("Gpu")]
    public void WeightsSavedFromABf16RunLoadInFp32AndScoreTheSame()
    {
        var dev = Electra.Tests.Cuda.Gpu.Dev;
        var s = Settings("bf16-score", Precision.Bf16, steps: 6);
        using (var run = Runner(s, dev)) Assert.That(run.Run(), Is.EqualTo(RunOutcome.Completed));
        var checkpoint = Path.Combine(s.OutDir, "checkpoint");
        using (var file = SafetensorsFile.Open(Path.Combine(checkpoint, "discriminator", "model.safetensors")))
            foreach (var name in file.Names) Assert.That(file.Info(name).DType, Is.EqualTo(SafetensorsDType.F32), $"{name} is saved from the F32 master");

        const string text = "the nation congress people war peace law of the world.";
        using var cpu = ModelLoading.LoadDiscriminator(checkpoint, Device.Cpu);
        var (tokens, fp32, _) = ScoreCommand.Score(cpu, Bert.Value, text);
        using var gpu = ModelLoading.LoadDiscriminator(checkpoint, dev);
        float[] bf16;
        using (Autocast.Bf16()) (_, bf16, _) = ScoreCommand.Score(gpu, Bert.Value, text);
        TestContext.Out.WriteLine(string.Join(" ", tokens.Zip(fp32, bf16).Select(x => $"{x.First}:{x.Second:F4}/{x.Third:F4}")));
        // p ≈ 0.37 here, σ′ = p(1 − p) ≈ 0.23: 2e-3 lets a logit of magnitude ≈ 0.5 move by ≈ 0.009, about four bf16
        // roundings (2⁻⁸ relative) of it, after one layer and the head in bf16. Measured: 4e-4.
        Assert.That(bf16.Zip(fp32, (x, y) => Math.Abs(x - y)).Max(), Is.LessThanOrEqualTo(2e-3f), "replaced probability, bf16 on CUDA vs fp32 on the CPU");
        Assert.That(fp32.Max() - fp32.Min(), Is.GreaterThan(0.01f), "the scores differ between tokens by more than the tolerance, so agreeing is not trivial");
    }

    [TestCase("sst2")]
    [TestCase("stsb")]
    [Category("Gpu")]
    public void FineTuningInBf16TracksFp32(string taskName)
    {
        // SST-2's two-way softmax cross-entropy (bf16 logits of 4-byte rows) and STS-B's MSE (a bf16 prediction cast
        // to F32), each two steps and a dev evaluation, against the same run in fp32 on the CPU.
        var dev = Electra.Tests.Cuda.Gpu.Dev;
        var task = GlueTask.Get(taskName);
        var rng = new Random(4);
        EncodedExample Example(int i)
        {
            int n = rng.Next(8, 24);
            var ids = Enumerable.Range(0, n).Select(j => j == 0 ? Bert.Value.ClsId : j == n - 1 ? Bert.Value.SepId : 1000 + rng.Next(5000)).ToArray();
            return new EncodedExample(ids, new int[n], i % 2, (float)rng.NextDouble() * 5);
        }
        var train = Enumerable.Range(0, 8).Select(Example).ToList();
        var devSet = Enumerable.Range(0, 6).Select(Example).ToList();
        (List<float> Losses, float[] Logits) Run(Device device, Precision precision)
        {
            using var model = new SequenceClassifier(Small, task.NumLabels, new Random(7), device);
            using var runner = new FineTuneRunner(model, task, train, devSet, Bert.Value.PadId,
                new FineTuneSettings { Epochs = 1, Batch = 4, Lr = 1e-3f, LogEvery = 1, Seed = 2, Precision = precision });
            var losses = new List<float>();
            runner.Run(r => { if (float.IsFinite(r.Loss)) losses.Add(r.Loss); });
            using var amp = Autocast.For(precision);
            return (losses, Predictor.Logits(model, devSet, 4, Bert.Value.PadId));
        }
        var (fp32Loss, fp32Logits) = Run(Device.Cpu, Precision.Fp32);
        var (bf16Loss, bf16Logits) = Run(dev, Precision.Bf16);
        TestContext.Out.WriteLine($"{taskName}: losses fp32 {string.Join(", ", fp32Loss)}, bf16 {string.Join(", ", bf16Loss)}");
        Assert.That(bf16Loss, Has.Count.EqualTo(2));
        // As for pretraining's first steps: ten times under one bf16 rounding of the loss (2⁻⁹ relative), 2e-4.
        // Measured: SST-2 1.3e-5, 4.3e-5; STS-B 2.5e-5, 5.0e-5.
        for (int i = 0; i < 2; i++)
            Assert.That(Math.Abs(bf16Loss[i] - fp32Loss[i]) / fp32Loss[i], Is.LessThanOrEqualTo(2e-4), $"{taskName} step {i}");
        // A logit is a 64-term dot product of bf16 activations with N(0, 0.02) weights whose terms largely cancel
        // (|Σ| ≪ Σ|·|), so its relative error is several bf16 roundings (2⁻⁸ each): 3e-2 of the largest logit.
        // Measured: 9.4e-3 (SST-2, logits ≈ 0.015), 2.7e-3 (STS-B, ≈ 0.1).
        double largest = fp32Logits.Max(Math.Abs);
        Assert.That(bf16Logits.Zip(fp32Logits, (a, b) => Math.Abs(a - b)).Max(), Is.LessThanOrEqualTo(3e-2 * largest), $"{taskName} dev logits (largest {largest})");
    }
}
