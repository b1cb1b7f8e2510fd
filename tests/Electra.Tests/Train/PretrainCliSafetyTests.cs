using System.Diagnostics;
using System.Text.Json.Nodes;
using Electra.Model;
using Electra.Train.Data;
using Electra.Train.Pretraining;
using Electra.Train.Runs;

namespace Electra.Tests.Train;

/// <summary>
/// `electra pretrain` on bad input, as a user meets it: a second run into a used run directory, a resume with
/// flags or data that are not the checkpoint's, two runs on one directory, shards of another vocabulary, absurd
/// numbers, a hand-edited state.json, leftovers of a killed save. Each refusal is one clear message and leaves every
/// file as it was.
/// </summary>
[NonParallelizable]
public class PretrainCliSafetyTests
{
    private string _dir = "", _shards = "", _otherShards = "", _permutedShards = "", _permutedVocab = "", _micro = "", _microGen = "";

    [OneTimeSetUp]
    public void Prepare()
    {
        _dir = TestData.TempDir();
        var bert = WordPieceTokenizer.Load();
        _shards = MicroRun.Shards(_dir, "shards", bert, corpusSeed: 3);
        _otherShards = MicroRun.Shards(_dir, "other-shards", bert, corpusSeed: 4);
        _permutedVocab = MicroRun.PermutedVocab(_dir);
        _permutedShards = MicroRun.Shards(_dir, "permuted-shards", WordPieceTokenizer.Load(_permutedVocab), corpusSeed: 3);
        (_micro, _microGen) = MicroRun.SaveConfigs(_dir);
    }

    [OneTimeTearDown]
    public void Clean()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    private string Run(string name) => Path.Combine(_dir, "runs", name + "-" + Guid.NewGuid().ToString("N")[..6]);

    /// <summary>A new micro-model run: 4 steps, a checkpoint every 2; <paramref name="more"/> replaces or adds flags.</summary>
    private string[] Fresh(string outDir, long steps = 4, params string[] more) => With(
    [
        "pretrain", "--config", _micro, "--generator-config", _microGen, "--data", _shards, "--seq", "32", "--batch", "4",
        "--steps", steps.ToString(), "--save-every", "2", "--log-every", "1", "--lr", "0.001", "--warmup", "1", "--seed", "11",
        "--device", "cpu", "--out", outDir,
    ], more);

    /// <summary><paramref name="args"/> with each flag of <paramref name="more"/> set: its value replaced, or appended.</summary>
    private static string[] With(string[] args, string[] more)
    {
        var result = args.ToList();
        for (int i = 0; i < more.Length; i++)
        {
            bool hasValue = i + 1 < more.Length && !more[i + 1].StartsWith("--", StringComparison.Ordinal);
            int at = result.IndexOf(more[i]);
            if (at >= 0 && hasValue) result[at + 1] = more[i + 1];
            else if (at < 0) result.AddRange(hasValue ? [more[i], more[i + 1]] : [more[i]]);
            if (hasValue) i++;
        }
        return [.. result];
    }

    private static string[] Resume(string from, params string[] more) => ["pretrain", "--resume", from, "--device", "cpu", .. more];

    private string Completed(string name, long steps = 4, params string[] more)
    {
        var run = Run(name);
        var r = Cli.Run(Fresh(run, steps, more));
        Assert.That(r.Code, Is.Zero, r.ToString());
        return run;
    }

    private static void AssertRefused(Cli.Result r, string expected, params string[] alsoExpected)
    {
        Assert.That(r.Code, Is.EqualTo(1), r.ToString());
        var lines = r.Error.Trim().Split('\n');
        Assert.That(lines, Has.Length.EqualTo(1), "one line: " + r.Error);
        Assert.That(lines[0], Does.StartWith("electra pretrain: ").And.Contain(expected), r.ToString());
        foreach (var e in alsoExpected) Assert.That(lines[0], Does.Contain(e));
    }

    private static TrainerState State(string run) => PretrainCheckpoint.ReadState(Path.Combine(run, "checkpoint"));

    // ---- 2: a second run into a used run directory --------------------------------------------------------------

    [Test]
    public void ASecondRunIntoAUsedRunDirectoryIsRefusedUntilOverwriteIsGiven()
    {
        var run = Completed("again");
        var before = Cli.Snapshot(run);

        var r = Cli.Run(Fresh(run, more: ["--seed", "12"]));
        AssertRefused(r, $"--out {run}: the run directory is not empty (it holds checkpoint/, metrics.jsonl)",
            $"pass --resume {Path.Combine(run, "checkpoint")} to continue it, --overwrite to replace that run, or choose another --out");
        Assert.That(Cli.Snapshot(run), Is.EqualTo(before));

        // A folder with unrelated files is not taken either.
        var other = Run("notes");
        Directory.CreateDirectory(other);
        File.WriteAllText(Path.Combine(other, "notes.txt"), "mine");
        AssertRefused(Cli.Run(Fresh(other)), $"--out {other}: the run directory is not empty (it holds notes.txt)");
        Assert.That(Directory.GetFileSystemEntries(other), Has.Length.EqualTo(1));

        var overwritten = Cli.Run(Fresh(run, more: ["--overwrite"]));
        Assert.That(overwritten.Code, Is.Zero, overwritten.ToString());
        Assert.That(overwritten.Out, Does.Contain($"--overwrite: removed the earlier run's metrics.jsonl, checkpoint/ from {run}"));
        Assert.That(State(run).Step, Is.EqualTo(4));
        Assert.That(File.ReadAllLines(Path.Combine(run, "metrics.jsonl")), Has.Length.EqualTo(4), "the old run's lines are gone, not appended to");
        Assert.That(Directory.GetFileSystemEntries(run).Select(Path.GetFileName), Is.EquivalentTo(new[] { "checkpoint", "metrics.jsonl" }), "the lock is released");
    }

    // ---- 3: resume goes to the checkpoint's own run directory, or an empty --out -------------------------------

    [Test]
    public void ResumeContinuesInTheCheckpointsOwnRunDirectoryWhateverTheCurrentFolder()
    {
        var home = Run("home");
        Directory.CreateDirectory(home);
        var elsewhere = Run("elsewhere");
        Directory.CreateDirectory(elsewhere);
        var saved = Environment.CurrentDirectory;
        try
        {
            Environment.CurrentDirectory = home;
            var first = Cli.Run(Fresh("run", steps: 2));          // a relative --out, recorded in the checkpoint
            Assert.That(first.Code, Is.Zero, first.ToString());
            Environment.CurrentDirectory = elsewhere;
            var r = Cli.Run(Resume(Path.Combine(home, "run", "checkpoint"), "--steps", "4"));
            Assert.That(r.Code, Is.Zero, r.ToString());
            Assert.That(r.Out, Does.Contain("--steps 4: the run is extended from 2 to 4 steps; the learning rate now decays to 0 at step 4"));
        }
        finally
        {
            Environment.CurrentDirectory = saved;
        }
        Assert.That(Directory.GetFileSystemEntries(elsewhere), Is.Empty, "nothing is written relative to the current folder");
        var state = State(Path.Combine(home, "run"));
        Assert.That(state.Step, Is.EqualTo(4));
        Assert.That(state.Settings.OutDir, Is.EqualTo(Path.Combine(home, "run")), "recorded absolute");
        Assert.That(File.ReadAllLines(Path.Combine(home, "run", "metrics.jsonl")), Has.Length.EqualTo(4));
    }

    [Test]
    public void ResumeRefusesAnotherRunsFolderAndStartsAnEmptyOneWithTheHistory()
    {
        var source = Completed("source", steps: 2);
        var other = Completed("other", steps: 2);
        var (sourceBefore, otherBefore) = (Cli.Snapshot(source), Cli.Snapshot(other));

        AssertRefused(Cli.Run(Resume(source, "--steps", "4", "--out", other)), $"--out {other}: the run directory is not empty");
        Assert.That((Cli.Snapshot(source), Cli.Snapshot(other)), Is.EqualTo((sourceBefore, otherBefore)));

        var fresh = Run("continued");
        var r = Cli.Run(Resume(source, "--steps", "4", "--out", fresh));
        Assert.That(r.Code, Is.Zero, r.ToString());
        Assert.That(r.Out, Does.Contain($"in the new run directory {fresh}; its metrics before step 2 were copied"));
        Assert.That(Cli.Snapshot(source), Is.EqualTo(sourceBefore), "the source run is only read");
        Assert.That(State(fresh).Step, Is.EqualTo(4));
        var steps = File.ReadAllLines(Path.Combine(fresh, "metrics.jsonl")).Select(l => JsonNode.Parse(l)!["step"]!.GetValue<long>());
        Assert.That(steps, Is.EqualTo(new long[] { 0, 1, 2, 3 }));
    }

    [Test]
    public void ResumeRefusesFlagsModelsAndDataThatAreNotTheCheckpoints()
    {
        var run = Completed("conflicts", steps: 2);
        var before = Cli.Snapshot(run);
        var checkpoint = Path.Combine(run, "checkpoint");

        AssertRefused(Cli.Run(Resume(checkpoint, "--steps", "4", "--lr", "0.002")), "--lr 0.002 conflicts with the checkpoint (lr 0.001;", "drop the flag");
        AssertRefused(Cli.Run(Resume(checkpoint, "--batch", "8", "--seq", "16")), "--batch 8, --seq 16 conflict with the checkpoint (batch 4, seq 32;");
        AssertRefused(Cli.Run(Resume(checkpoint, "--objective", "mlm")), "--objective mlm conflicts with the checkpoint (objective rtd;");
        AssertRefused(Cli.Run(Resume(checkpoint, "--preset", "small")), "--preset small conflicts with the checkpoint (preset tiny;");
        AssertRefused(Cli.Run(Resume(checkpoint, "--seed", "3", "--warmup", "5")), "--warmup 5, --seed 3 conflict");
        AssertRefused(Cli.Run(Resume(checkpoint, "--temperature", "2", "--mask-prob", "0.2", "--disc-weight", "10")),
            "--temperature 2, --mask-prob 0.2, --disc-weight 10 conflict with the checkpoint (temperature 1, mask-prob 0.15, disc-weight 50;");

        var wider = Path.Combine(_dir, $"wider-{Guid.NewGuid():N}.json");
        (ElectraConfig.Load(_micro) with { IntermediateSize = 128 }).Save(wider);
        AssertRefused(Cli.Run(Resume(checkpoint, "--steps", "4", "--config", wider)),
            "--config: the discriminator config differs from the checkpoint's (intermediate_size 128 vs 64;", "drop --config");

        AssertRefused(Cli.Run(Resume(checkpoint, "--steps", "4", "--data", _otherShards)),
            $"--data {_otherShards}: these shards (fingerprint {DataFingerprint.Of(_otherShards)}) are not the data the checkpoint trained on ({_shards}, fingerprint {DataFingerprint.Of(_shards)})");
        Assert.That(Cli.Snapshot(run), Is.EqualTo(before));

        // The same data under another path is the same data.
        var moved = Path.Combine(_dir, $"moved-{Guid.NewGuid():N}");
        MicroRun.CopyDirectory(_shards, moved);
        var r = Cli.Run(Resume(checkpoint, "--steps", "4", "--data", moved, "--save-every", "1", "--log-every", "2"));
        Assert.That(r.Code, Is.Zero, r.ToString());
        Assert.That(State(run).Settings.DataDir, Is.EqualTo(moved));
    }

    [Test]
    public void StepsBelowTheCheckpointOrAtItsEndWriteNothing()
    {
        var run = Completed("steps");
        var before = Cli.Snapshot(run);

        AssertRefused(Cli.Run(Resume(run, "--steps", "2")),
            $"--steps 2 is below the checkpoint's step 4 ({Path.Combine(run, "checkpoint")}): a run cannot go back; nothing was written");
        var done = Cli.Run(Resume(run));
        Assert.That(done.Code, Is.Zero, done.ToString());
        Assert.That(done.Out, Does.Contain("is already at step 4 of 4: nothing to train, nothing was written. Pass --steps N (more than 4) to extend the run."));
        Assert.That(Cli.Snapshot(run), Is.EqualTo(before));

        var notACheckpoint = Run("empty");
        Directory.CreateDirectory(notACheckpoint);
        AssertRefused(Cli.Run(Resume(notACheckpoint)), $"--resume {notACheckpoint}: not a pretraining checkpoint (no trainer/state.json in it or in checkpoint/)");
    }

    // ---- 4: one run per directory -------------------------------------------------------------------------------

    [Test]
    public void ASecondRunOnABusyDirectoryIsRefusedNamingTheLock()
    {
        var run = Completed("busy", steps: 2);
        using (var held = RunLock.Acquire(run, "pretrain"))   // this process stands in for a run in progress
        {
            var before = Cli.Snapshot(run);
            var lockPath = Path.Combine(run, RunLock.FileName);
            AssertRefused(Cli.Run(Resume(run, "--steps", "4")), $"{lockPath}: the run directory is in use by another run (pid {Environment.ProcessId} on ",
                "`electra pretrain` started");
            AssertRefused(Cli.Run(Fresh(run, more: ["--overwrite"])), $"{lockPath}: the run directory is in use by another run");
            Assert.That(Cli.Snapshot(run), Is.EqualTo(before));
        }

        // The owner is gone (a process that has exited): its lock is stale and is replaced, with a note.
        using var gone = Process.Start(new ProcessStartInfo("true") { UseShellExecute = false })!;
        gone.WaitForExit();
        File.WriteAllText(Path.Combine(run, RunLock.FileName),
            new JsonObject { ["pid"] = gone.Id, ["host"] = Environment.MachineName, ["started_utc"] = DateTime.UtcNow.ToString("O"), ["command"] = "pretrain" }.ToJsonString());
        var r = Cli.Run(Resume(run, "--steps", "4"));
        Assert.That(r.Code, Is.Zero, r.ToString());
        Assert.That(r.Out, Does.Contain($"replaced the stale lock {Path.Combine(run, RunLock.FileName)} of a run that is no longer running (pid {gone.Id} on "));
        Assert.That(State(run).Step, Is.EqualTo(4));
        Assert.That(File.Exists(Path.Combine(run, RunLock.FileName)), Is.False, "released at the end");
    }

    // ---- 6: the data's vocabulary and fingerprint -----------------------------------------------------------------

    [Test]
    public void ShardsOfAnotherVocabularyAreRefusedAtPretrainAndResume()
    {
        var run = Run("permuted");
        var r = Cli.Run(Fresh(run, more: ["--data", _permutedShards]));
        AssertRefused(r, $"{Path.Combine(_permutedShards, "manifest.json")}: the data was prepared with vocab hash {Vocabulary.Load(_permutedVocab).Hash}, " +
                         $"but the tokenizer's vocab hash is {WordPieceTokenizer.Load().VocabHash}");
        Assert.That(Directory.Exists(run), Is.False, "nothing written");

        var ok = Cli.Run(Fresh(run, steps: 2, "--data", _permutedShards, "--vocab", _permutedVocab));
        Assert.That(ok.Code, Is.Zero, ok.ToString());
        var state = State(run);
        Assert.That(state.VocabHash, Is.EqualTo(Vocabulary.Load(_permutedVocab).Hash));
        Assert.That(state.DataFingerprint, Is.EqualTo(DataFingerprint.Of(_permutedShards)));

        var before = Cli.Snapshot(run);
        AssertRefused(Cli.Run(Resume(run, "--steps", "4")), "the data was prepared with vocab hash");
        Assert.That(Cli.Snapshot(run), Is.EqualTo(before));
    }

    [Test]
    public void ShardsOfAnEarlierTokenizerAreSaidSo()
    {
        Assert.That(ShardManifest.Load(_shards).Tokenizer, Is.EqualTo(BasicTokenizer.Version), "prepare-data records its tokenizer");
        var old = Path.Combine(_dir, "old-tokenizer-shards");
        MicroRun.CopyDirectory(_shards, old);
        var manifest = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(old, ShardManifest.FileName)))!.AsObject();
        manifest.Remove("tokenizer");
        File.WriteAllText(Path.Combine(old, ShardManifest.FileName), manifest.ToJsonString());

        var r = Cli.Run(Fresh(Run("old-tokenizer"), steps: 2, "--data", old));
        Assert.That(r.Code, Is.Zero, r.ToString());
        Assert.That(r.Out, Does.Contain($"{old} was tokenized by an earlier build, which dropped symbols such as $ and £, not this build's {BasicTokenizer.Version}"));
        var current = Cli.Run(Fresh(Run("current-tokenizer"), steps: 2));
        Assert.That(current.Code, Is.Zero, current.ToString());
        Assert.That(current.Out, Does.Not.Contain("was tokenized by"));
    }

    // ---- also: absurd numbers, the objective's knobs, state.json, leftovers, the device ---------------------------

    [TestCase("--lr", "Infinity", "--lr must be a finite number above 0, got Infinity")]
    [TestCase("--lr", "1e30", "--lr must be in (0, 1], got 1E+30")]
    [TestCase("--lr", "NaN", "--lr must be a finite number above 0, got NaN")]
    [TestCase("--lr", "0", "--lr must be a finite number above 0, got 0")]
    [TestCase("--mask-prob", "1.5", "--mask-prob must be in (0, 1), got 1.5")]
    [TestCase("--temperature", "0", "--temperature must be a finite number above 0, got 0")]
    [TestCase("--temperature", "1e9", "--temperature must be in [0.01, 100], got 1E+09")]
    [TestCase("--disc-weight", "-1", "--disc-weight must be a finite number above 0, got -1")]
    [TestCase("--warmup", "-1", "--warmup must not be negative, got -1")]
    [TestCase("--save-every", "0", "--save-every must be at least 1, got 0")]
    public void AbsurdNumbersAreRefusedByName(string flag, string value, string expected)
    {
        var run = Run("absurd");
        AssertRefused(Cli.Run(Fresh(run, more: [flag, value])), expected);
        Assert.That(Directory.Exists(run), Is.False);
    }

    [Test]
    public void TheObjectivesKnobsReachTheLossAndAreSavedInTheCheckpoint()
    {
        var run = Completed("knobs", steps: 2, "--temperature", "2", "--mask-prob", "0.25", "--disc-weight", "10");
        var settings = State(run).Settings;
        Assert.That((settings.Temperature, settings.MaskProb, settings.DiscWeight), Is.EqualTo((2f, 0.25f, 10f)));
        foreach (var line in File.ReadAllLines(Path.Combine(run, "metrics.jsonl")))
        {
            var m = JsonNode.Parse(line)!;
            double loss = m["loss"]!.GetValue<double>(), mlm = m["mlm_loss"]!.GetValue<double>(), disc = m["disc_loss"]!.GetValue<double>();
            Assert.That(loss, Is.EqualTo(mlm + 10 * disc).Within(1e-4), "loss = MLM + λ·BCE with λ = --disc-weight");
        }

        var defaults = State(Completed("paper", steps: 2)).Settings;
        Assert.That((defaults.Temperature, defaults.MaskProb, defaults.DiscWeight), Is.EqualTo((1f, 0.15f, 50f)), "the paper's values");

        var before = Cli.Snapshot(run);
        AssertRefused(Cli.Run(Resume(run, "--steps", "4", "--disc-weight", "50")), "--disc-weight 50 conflicts with the checkpoint (disc-weight 10;");
        Assert.That(Cli.Snapshot(run), Is.EqualTo(before));
    }

    [TestCase("\"step\": 2", "\"step\": -5", "step -5 is negative")]
    [TestCase("\"step\": 2", "\"step\": 99", "step 99 is beyond the run's 2 steps")]
    [TestCase("\"data_position\": ", "\"data_position\": -", "is negative")]
    [TestCase("\"step\": 2", "\"step\": \"two\"", "not a valid trainer state")]
    [TestCase("\"lr\": 0.001", "\"lr\": -1", "settings: --lr must be a finite number above 0, got -1")]
    public void AHandEditedStateJsonIsAnError(string find, string replace, string expected)
    {
        var run = Completed("edited", steps: 2);
        var statePath = Path.Combine(run, "checkpoint", "trainer", "state.json");
        var text = File.ReadAllText(statePath);
        Assert.That(text, Does.Contain(find));
        File.WriteAllText(statePath, text.Replace(find, replace));
        var before = Cli.Snapshot(run);
        AssertRefused(Cli.Run(Resume(run, "--steps", "4")), $"{statePath}: ", expected);
        Assert.That(Cli.Snapshot(run), Is.EqualTo(before));
    }

    [Test]
    public void WhatAKilledSaveLeftIsRemovedOrRestoredAtTheNextStart()
    {
        var run = Completed("debris", steps: 2);
        var checkpoint = Path.Combine(run, "checkpoint");
        var staging = Path.Combine(run, ".checkpoint.tmp-999999");
        MicroRun.CopyDirectory(checkpoint, staging);
        File.Delete(Path.Combine(staging, "trainer", "state.json"));    // half written
        Directory.Move(checkpoint, checkpoint + ".old");                  // killed between the two renames of a swap

        var r = Cli.Run(Resume(run, "--steps", "4"));
        Assert.That(r.Code, Is.Zero, r.ToString());
        Assert.That(r.Out, Does.Contain($"removed {staging}, left by a save that did not finish"));
        Assert.That(r.Out, Does.Contain($"restored {checkpoint} from {checkpoint}.old"));
        Assert.That(Directory.GetFileSystemEntries(run).Select(Path.GetFileName), Is.EquivalentTo(new[] { "checkpoint", "metrics.jsonl" }));
        Assert.That(State(run).Step, Is.EqualTo(4));
    }

    [Test]
    public void AFailedSaveRemovesItsStagingAndKeepsThePreviousCheckpoint()
    {
        var run = Completed("failed-save", steps: 2);
        var checkpoint = Path.Combine(run, "checkpoint");
        var before = Cli.Snapshot(checkpoint);
        var micro = ElectraConfig.Load(_micro);
        var tokenizer = WordPieceTokenizer.Load();
        using var model = new Pretrainer(micro, ElectraConfig.Load(_microGen),
            new PretrainOptions { Special = new SpecialTokens(tokenizer.PadId, tokenizer.UnkId, tokenizer.ClsId, tokenizer.SepId, tokenizer.MaskId) }, Device.Cpu);
        using var optimizer = new Electra.Optim.AdamW(Electra.Optim.AdamW.DefaultGroups(model.NamedParameters(), 0.01f));
        // A generator tensor that can no longer be read: the write fails after the discriminator is staged.
        model.NamedParameters().First(p => p.Name.StartsWith("generator.", StringComparison.Ordinal)).Tensor.Dispose();
        Assert.That(() => PretrainCheckpoint.Save(checkpoint, model, optimizer, State(run)), Throws.InstanceOf<ObjectDisposedException>());
        Assert.That(Directory.GetFileSystemEntries(run).Select(Path.GetFileName), Is.EquivalentTo(new[] { "checkpoint", "metrics.jsonl" }), "no staging left");
        Assert.That(Cli.Snapshot(checkpoint), Is.EqualTo(before));
    }

    [Test]
    public void TheDivergenceMessageNamesACheckpointOnlyWhenOneExists()
    {
        var tokenizer = WordPieceTokenizer.Load();
        var special = new SpecialTokens(tokenizer.PadId, tokenizer.UnkId, tokenizer.ClsId, tokenizer.SepId, tokenizer.MaskId);
        var settings = new PretrainSettings
        {
            Steps = 40, Batch = 4, Seq = 32, Lr = 1e30f, Warmup = 0, SaveEvery = 100, LogEvery = 1, DataDir = _shards, OutDir = Run("diverged"),
        };
        using var runner = new PretrainRunner(settings, ElectraConfig.Load(_micro), ElectraConfig.Load(_microGen), Device.Cpu, special);
        Assert.That(runner.Run(), Is.EqualTo(RunOutcome.Diverged));
        Assert.That(Directory.Exists(runner.CheckpointDir), Is.False);
        var message = Electra.Train.Commands.PretrainCommand.DivergenceMessage(runner);
        Assert.That(message, Does.Contain("no checkpoint was saved before it (the first was due at step 40)"));
        Assert.That(message, Does.Not.Contain(runner.CheckpointDir));
    }

    [Test]
    public void BenchCudaGraphTakesOnlyOnOrOff()
    {
        var r = Cli.Run(["bench", "train", "--preset", "tiny", "--device", "cpu", "--cuda-graph", "maybe"]);
        Assert.That(r.Code, Is.EqualTo(1), r.ToString());
        Assert.That(r.Error.Trim(), Is.EqualTo("electra bench: --cuda-graph: expected on or off, got 'maybe'"));
    }

    [Test]
    public void CudaWithoutADeviceIsAOneLineErrorInEveryCommand()
    {
        try
        {
            Electra.Cuda.CudaBackend.Create(0).Dispose();
            Assert.Ignore("a CUDA device (or the simulator) answers here");
        }
        catch (Exception e) when (e is Electra.Cuda.CudaUnavailableException or DllNotFoundException)
        {
        }
        var model = Completed("cuda", steps: 2);
        var glue = Path.Combine(_dir, "glue-none");
        string[][] commands =
        [
            Fresh(Run("cuda-pretrain"), more: ["--device", "cuda"]),
            ["score", "--model", model, "--text", "hello", "--device", "cuda"],
            ["embed", "--model", model, "--text", "hello", "--device", "cuda"],
            ["finetune", "--model", model, "--task", "sst2", "--data", glue, "--out", Run("cuda-finetune"), "--device", "cuda"],
            ["evaluate", "--model", model, "--task", "sst2", "--data", Path.Combine(glue, "dev.tsv"), "--device", "cuda"],
            ["bench", "train", "--preset", "tiny", "--device", "cuda"],
        ];
        foreach (var args in commands)
        {
            var r = Cli.Run(args);
            Assert.That(r.Code, Is.EqualTo(1), r.ToString());
            var lines = r.Error.Trim().Split('\n');
            Assert.That(lines, Has.Length.EqualTo(1), $"{args[0]}: {r.Error}");
            Assert.That(lines[0], Does.Match("^electra [a-z]+: --device cuda: no usable CUDA device here \\(.+\\); use --device cpu or auto"), args[0]);
        }
    }
}
