using Electra.Train.Data;
using Electra.Train.Runs;

namespace Electra.Tests.Train;

/// <summary>
/// `electra finetune` on a used or busy run directory and with a vocabulary the model was not trained with: one
/// clear message each, and every existing file left as it was.
/// </summary>
[NonParallelizable]
public class FinetuneCliSafetyTests
{
    private string _dir = "", _model = "", _glue = "", _permutedVocab = "";

    [OneTimeSetUp]
    public void Prepare()
    {
        _dir = TestData.TempDir();
        var shards = MicroRun.Shards(_dir, "shards", WordPieceTokenizer.Load(), corpusSeed: 6);
        var (micro, microGen) = MicroRun.SaveConfigs(_dir);
        _model = Path.Combine(_dir, "pretrained");
        var r = Cli.Run("pretrain", "--config", micro, "--generator-config", microGen, "--data", shards, "--seq", "32", "--batch", "4",
            "--steps", "2", "--device", "cpu", "--out", _model);
        Assert.That(r.Code, Is.Zero, r.ToString());
        _permutedVocab = MicroRun.PermutedVocab(_dir);

        // A made-up SST-2: "good" phrases are positive.
        _glue = Path.Combine(_dir, "sst2");
        Directory.CreateDirectory(_glue);
        var rng = new Random(2);
        string[] words = ["film", "story", "actors", "plot", "music", "ending"];
        foreach (var (file, n) in new[] { ("train.tsv", 24), ("dev.tsv", 8) })
            File.WriteAllLines(Path.Combine(_glue, file), ["sentence\tlabel", .. Enumerable.Range(0, n).Select(i =>
                $"{(i % 2 == 0 ? "good" : "bad")} {words[rng.Next(words.Length)]} {words[rng.Next(words.Length)]}\t{(i % 2 == 0 ? 1 : 0)}")]);
    }

    [OneTimeTearDown]
    public void Clean()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    private string Out(string name) => Path.Combine(_dir, "runs", name + "-" + Guid.NewGuid().ToString("N")[..6]);

    private string[] Finetune(string outDir, params string[] more) =>
        ["finetune", "--model", _model, "--task", "sst2", "--data", _glue, "--out", outDir, "--epochs", "1", "--batch", "8", "--seq", "16", "--device", "cpu", .. more];

    private static void AssertRefused(Cli.Result r, string expected)
    {
        Assert.That(r.Code, Is.EqualTo(1), r.ToString());
        var lines = r.Error.Trim().Split('\n');
        Assert.That(lines, Has.Length.EqualTo(1), "one line: " + r.Error);
        Assert.That(lines[0], Does.StartWith("electra finetune: ").And.Contain(expected), r.ToString());
    }

    [Test]
    public void ASecondFinetuneIntoAUsedRunDirectoryIsRefusedUntilOverwriteIsGiven()
    {
        var run = Out("again");
        var first = Cli.Run(Finetune(run));
        Assert.That(first.Code, Is.Zero, first.ToString());
        var before = Cli.Snapshot(run);
        Assert.That(before.Keys, Does.Contain("best.json").And.Contain("metrics.jsonl").And.Contain(Path.Combine("best", "model.safetensors")));

        AssertRefused(Cli.Run(Finetune(run, "--seed", "2")),
            $"--out {run}: the run directory is not empty (it holds best.json, best/, metrics.jsonl); pass --overwrite to replace that run, or choose another --out");
        Assert.That(Cli.Snapshot(run), Is.EqualTo(before));

        var again = Cli.Run(Finetune(run, "--seed", "2", "--overwrite"));
        Assert.That(again.Code, Is.Zero, again.ToString());
        Assert.That(again.Out, Does.Contain($"note: --overwrite: removed the earlier run's metrics.jsonl, best/, best.json from {run}"));
        Assert.That(Directory.GetFileSystemEntries(run).Select(Path.GetFileName), Is.EquivalentTo(new[] { "best", "best.json", "metrics.jsonl" }));
        Assert.That(Cli.Snapshot(run)[Path.Combine("best", "model.safetensors")], Is.Not.EqualTo(before[Path.Combine("best", "model.safetensors")]),
            "another seed, another model: it was replaced");
    }

    [Test]
    public void AFinetuneOnABusyDirectoryIsRefusedNamingTheLock()
    {
        var run = Out("busy");
        Directory.CreateDirectory(run);
        using var held = RunLock.Acquire(run, "finetune");
        var before = Cli.Snapshot(run);
        AssertRefused(Cli.Run(Finetune(run, "--overwrite")),
            $"{Path.Combine(run, RunLock.FileName)}: the run directory is in use by another run (pid {Environment.ProcessId} on ");
        Assert.That(Cli.Snapshot(run), Is.EqualTo(before));
    }

    [Test]
    public void AVocabularyOtherThanTheModelsIsRefused()
    {
        var run = Out("vocab");
        AssertRefused(Cli.Run(Finetune(run, "--vocab", _permutedVocab)),
            $"--vocab {_permutedVocab}: its vocab hash {Vocabulary.Load(_permutedVocab).Hash} differs from {WordPieceTokenizer.Load().VocabHash}, " +
            $"the vocabulary of the shards {Path.Combine(_model, "checkpoint")} was pretrained on");
        Assert.That(Directory.Exists(run), Is.False, "nothing written");

        // An HF directory that carries its own vocab.txt.
        var hf = Path.Combine(_dir, $"hf-{Guid.NewGuid():N}");
        MicroRun.CopyDirectory(Path.Combine(_model, "checkpoint", "discriminator"), hf);
        File.Copy(_permutedVocab, Path.Combine(hf, "vocab.txt"));
        int line = Array.IndexOf(File.ReadAllLines(_permutedVocab), "nation") + 1;
        AssertRefused(Cli.Run(Finetune(run).Select(a => a == _model ? hf : a).ToArray()),
            $"not the model's own {Path.Combine(hf, "vocab.txt")} (line {line} is \"the\" here, \"nation\" there); pass --vocab {Path.Combine(hf, "vocab.txt")}");
        Assert.That(Directory.Exists(run), Is.False, "nothing written");
    }

    [TestCase("1e30", "--lr must be in (0, 1], got 1E+30")]
    [TestCase("Infinity", "--lr must be in (0, 1], got Infinity")]
    public void AbsurdLearningRatesAreRefused(string lr, string expected)
    {
        var run = Out("lr");
        AssertRefused(Cli.Run(Finetune(run, "--lr", lr)), expected);
        Assert.That(Directory.Exists(run), Is.False);
    }
}
