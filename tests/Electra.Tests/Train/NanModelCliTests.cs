using System.CommandLine;
using System.Text.Json.Nodes;
using Electra.Model;
using Electra.Model.Checkpoints;
using Electra.Train.Commands;
using Spectre.Console;

namespace Electra.Tests.Train;

/// <summary>
/// The diverged checkpoint: encoder.layer.0.attention.self.query.weight all NaN. score and embed must show
/// NaN (null in --json, which stays valid JSON), not finite, plausible numbers.
/// </summary>
public class NanModelCliTests
{
    private string _dir = "";

    [SetUp]
    public void SetUp()
    {
        _dir = TestData.TempDir();
        var config = new ElectraConfig { EmbeddingSize = 16, HiddenSize = 32, NumHiddenLayers = 2, NumAttentionHeads = 2, IntermediateSize = 64, MaxPositionEmbeddings = 64 };
        var rng = new Random(1);
        using var emb = new ElectraEmbeddings(config, rng, Device.Cpu);
        using var disc = new Discriminator(config, emb, rng, Device.Cpu);
        // Rows [0, H) of the fused QKV weight are the checkpoint's query.weight.
        disc.Electra.Layers[0].Qkv.Weight.AsSpan<float>()[..(config.HiddenSize * config.HiddenSize)].Fill(float.NaN);
        HfCheckpoint.Save(Path.Combine(_dir, "discriminator"), disc, config);
    }

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    private static (int Code, string Out, string Error) Cli(params string[] args)
    {
        var root = new RootCommand();
        foreach (var c in CommandList.All()) root.Subcommands.Add(c);
        var (originalOut, originalError, savedAnsi) = (Console.Out, Console.Error, AnsiConsole.Console);
        var (stdout, stderr) = (new StringWriter(), new StringWriter());
        try
        {
            Console.SetOut(stdout);
            Console.SetError(stderr);
            AnsiConsole.Console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(stdout), Ansi = AnsiSupport.No });
            return (root.Parse(args).Invoke(), stdout.ToString(), stderr.ToString());
        }
        finally
        {
            Console.SetOut(originalOut);
            Console.SetError(originalError);
            AnsiConsole.Console = savedAnsi;
        }
    }

    [Test]
    public void ScoreShowsNaNAndItsJsonSaysNull()
    {
        var (code, output, error) = Cli("score", "--model", _dir, "--text", "the cat sat", "--json", "--device", "cpu");
        Assert.That(code, Is.Zero, error);
        var line = JsonNode.Parse(output.Trim())!;
        var tokens = line["tokens"]!.AsArray();
        Assert.That(tokens.Select(t => t!["token"]!.GetValue<string>()), Is.EqualTo(new[] { "[CLS]", "the", "cat", "sat", "[SEP]" }));
        Assert.That(tokens.Select(t => t!["replaced_prob"]), Is.All.Null, "every probability is NaN, written as null");

        (code, output, _) = Cli("score", "--model", _dir, "--text", "the cat sat", "--device", "cpu");
        Assert.That(code, Is.Zero);
        Assert.That(output.Split('\n').Count(l => l.Contains("NaN")), Is.EqualTo(5), "the table shows NaN for each token");
    }

    [Test]
    public void EmbedJsonSaysNullForNaNStates()
    {
        var (code, output, error) = Cli("embed", "--model", _dir, "--text", "good film", "--text", "bad film", "--json", "--pairs", "--device", "cpu");
        Assert.That(code, Is.Zero, error);
        var lines = output.Trim().Split('\n').Select(l => JsonNode.Parse(l)!).ToList();
        Assert.That(lines, Has.Count.EqualTo(3));
        Assert.That(lines[0]["pooled"]!.AsArray(), Has.Count.EqualTo(32).And.All.Null);
        Assert.That(lines[1]["hidden"]!.AsArray().SelectMany(r => r!.AsArray()), Is.All.Null);
        Assert.That(lines[2]["cosine"]![0]![1], Is.Null);
    }
}
