using System.CommandLine;
using System.Text.Json.Nodes;
using Electra.Model;
using Electra.Model.Checkpoints;
using Electra.Train.Commands;
using Spectre.Console;

namespace Electra.Tests.Train;

/// <summary>
/// A model directory whose config.json asks for something this implementation does not compute (relative position
/// embeddings, a decoder, a multi-label head) is refused by every command that loads it, with the field and the
/// supported values named, and nothing on disk changes: before, relative_key ran as absolute and finetune wrote
/// "absolute" back.
/// </summary>
public class UnsupportedConfigTests
{
    private string _dir = "";

    [SetUp]
    public void SetUp() => _dir = TestData.TempDir();

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    private static readonly ElectraConfig Small = new()
    {
        EmbeddingSize = 16, HiddenSize = 32, NumHiddenLayers = 1, NumAttentionHeads = 2, IntermediateSize = 64, MaxPositionEmbeddings = 64,
    };

    /// <summary>A saved discriminator (or classifier) whose config.json then gets <paramref name="key"/> = <paramref name="value"/>.</summary>
    private string Model(string key, JsonNode value, bool classifier = false)
    {
        var dir = Path.Combine(_dir, "model");
        var rng = new Random(1);
        if (classifier)
        {
            using var model = new SequenceClassifier(Small, 2, rng, Device.Cpu);
            ClassifierCheckpoint.Save(dir, model, ["negative", "positive"], "sst2");
        }
        else
        {
            using var emb = new ElectraEmbeddings(Small, rng, Device.Cpu);
            using var disc = new Discriminator(Small, emb, rng, Device.Cpu);
            HfCheckpoint.Save(dir, disc, Small);
        }
        var path = Path.Combine(dir, HfCheckpoint.ConfigFile);
        var o = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        o[key] = value;
        File.WriteAllText(path, o.ToJsonString());
        return dir;
    }

    private static (int Code, string Output) Cli(params string[] args)
    {
        var root = new RootCommand();
        foreach (var c in CommandList.All()) root.Subcommands.Add(c);
        var (originalOut, originalError, savedAnsi) = (Console.Out, Console.Error, AnsiConsole.Console);
        var output = new StringWriter();
        try
        {
            Console.SetOut(output);
            Console.SetError(output);
            AnsiConsole.Console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(output), Ansi = AnsiSupport.No });
            AnsiConsole.Console.Profile.Width = 400;
            return (root.Parse(args).Invoke(), output.ToString());
        }
        finally
        {
            Console.SetOut(originalOut);
            Console.SetError(originalError);
            AnsiConsole.Console = savedAnsi;
        }
    }

    private static SortedDictionary<string, byte[]> Snapshot(string dir) =>
        new(Directory.GetFiles(dir, "*", SearchOption.AllDirectories).ToDictionary(f => Path.GetRelativePath(dir, f), File.ReadAllBytes), StringComparer.Ordinal);

    private static void AssertUnchanged(SortedDictionary<string, byte[]> before, string dir)
    {
        var after = Snapshot(dir);
        Assert.That(after.Keys, Is.EqualTo(before.Keys));
        foreach (var (name, bytes) in before) Assert.That(after[name], Is.EqualTo(bytes), name);
    }

    private const string RelativeKey = "position_embedding_type 'relative_key' is not supported (supported: 'absolute')";

    [TestCase("score")]
    [TestCase("embed")]
    public void ScoreAndEmbedRefuseRelativePositions(string command)
    {
        var model = Model("position_embedding_type", "relative_key");
        var before = Snapshot(model);
        var (code, output) = Cli(command, "--model", model, "--text", "hello world", "--device", "cpu");
        Assert.That(code, Is.EqualTo(1), output);
        Assert.That(output, Does.Contain($"{Path.Combine(model, "config.json")}: {RelativeKey}"));
        Assert.That(output.Trim().Split('\n'), Has.Length.EqualTo(1), "one line");
        AssertUnchanged(before, model);
    }

    [Test]
    public void FinetuneRefusesRelativePositionsAndWritesNothing()
    {
        var model = Model("position_embedding_type", "relative_key");
        var before = Snapshot(model);
        var data = Path.Combine(_dir, "sst2");
        Directory.CreateDirectory(data);
        foreach (var split in new[] { "train.tsv", "dev.tsv" })
            File.WriteAllText(Path.Combine(data, split), "sentence\tlabel\ngood film\t1\nbad film\t0\n");
        var output = Path.Combine(_dir, "out");
        var (code, text) = Cli("finetune", "--model", model, "--task", "sst2", "--data", data, "--out", output, "--device", "cpu");
        Assert.That(code, Is.EqualTo(1), text);
        Assert.That(text, Does.Contain($"electra finetune: {Path.Combine(model, "config.json")}: {RelativeKey}"));
        AssertUnchanged(before, model);
        Assert.That(Directory.Exists(output), Is.False, "no run directory");
    }

    [Test]
    public void EvaluateRefusesAMultiLabelHead()
    {
        var model = Model("problem_type", "multi_label_classification", classifier: true);
        var before = Snapshot(model);
        var (code, output) = Cli("evaluate", "--model", model, "--data", Path.Combine(_dir, "dev.tsv"), "--device", "cpu");
        Assert.That(code, Is.EqualTo(1), output);
        Assert.That(output, Does.Contain(
            $"electra evaluate: {Path.Combine(model, "config.json")}: problem_type 'multi_label_classification' is not supported (supported: single_label_classification, regression)"));
        AssertUnchanged(before, model);
    }

    [Test]
    public void PretrainRefusesADecoderConfig()
    {
        var config = Path.Combine(_dir, "decoder.json");
        File.WriteAllText(config, """{"hidden_size": 32, "num_attention_heads": 2, "num_hidden_layers": 1, "intermediate_size": 64, "is_decoder": true}""");
        var runs = Path.Combine(_dir, "run");
        var (code, output) = Cli("pretrain", "--config", config, "--data", Path.Combine(_dir, "nowhere"), "--out", runs, "--device", "cpu");
        Assert.That(code, Is.EqualTo(1), output);
        Assert.That(output, Does.Contain($"pretrain: {config}: is_decoder true is not supported (supported: false)"));
        Assert.That(Directory.Exists(runs), Is.False);
    }
}
