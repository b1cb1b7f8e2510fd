using Electra.Model;
using Electra.Model.Checkpoints;
using Electra.Train;
using Electra.Train.Commands;
using Electra.Train.Data;

namespace Electra.Tests.Train;

public class ScoreTests
{
    [Test]
    public void ScoresEveryTokenOfASavedDiscriminator()
    {
        var dir = TestData.TempDir();
        try
        {
            var config = new ElectraConfig { EmbeddingSize = 16, HiddenSize = 32, NumHiddenLayers = 1, NumAttentionHeads = 2, IntermediateSize = 64, MaxPositionEmbeddings = 64 };
            var rng = new Random(1);
            using (var emb = new ElectraEmbeddings(config, rng, Device.Cpu))
            using (var disc = new Discriminator(config, emb, rng, Device.Cpu))
                HfCheckpoint.Save(Path.Combine(dir, "discriminator"), disc, config);

            var tokenizer = WordPieceTokenizer.Load();
            using var loaded = ModelLoading.LoadDiscriminator(dir, Device.Cpu);
            Assert.That(loaded.Training, Is.False, "scoring runs without dropout");
            var (tokens, probs, textTokens) = ScoreCommand.Score(loaded, tokenizer, "The quick brown fox jumps over the lazy dog.");
            Assert.That(textTokens, Is.EqualTo(10));
            Assert.That(tokens, Is.EqualTo(new[] { "[CLS]", "the", "quick", "brown", "fox", "jumps", "over", "the", "lazy", "dog", ".", "[SEP]" }));
            Assert.That(probs, Has.Length.EqualTo(tokens.Length));
            Assert.That(probs, Is.All.InRange(0f, 1f));
            // An untrained head with N(0, 0.02) weights sits near 0.5 everywhere.
            Assert.That(probs, Is.All.EqualTo(0.5f).Within(0.05f));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Test]
    public void ATruncatedTextIsSaid()
    {
        var dir = TestData.TempDir();
        try
        {
            string text = MicroRun.ShortDiscriminator(dir, positions: 16, words: 20);
            var root = new System.CommandLine.RootCommand();
            foreach (var c in CommandList.All()) root.Subcommands.Add(c);
            var (originalOut, originalError) = (Console.Out, Console.Error);
            var (stdout, stderr) = (new StringWriter(), new StringWriter());
            int code;
            try
            {
                Console.SetOut(stdout);
                Console.SetError(stderr);
                code = root.Parse(["score", "--model", dir, "--text", "short text", "--text", text, "--json", "--device", "cpu"]).Invoke();
            }
            finally
            {
                Console.SetOut(originalOut);
                Console.SetError(originalError);
            }
            Assert.That(code, Is.Zero, stderr.ToString());
            Assert.That(stderr.ToString().Trim(), Is.EqualTo(
                "score: text 2 has 20 tokens, more than the model's 16 positions hold with [CLS] and [SEP]: only the first 14 are scored"));
            var lines = stdout.ToString().Trim().Split('\n').Select(l => System.Text.Json.Nodes.JsonNode.Parse(l)!).ToList();
            Assert.That((lines[0]["truncated"]!.GetValue<bool>(), lines[0]["text_tokens"]!.GetValue<int>()), Is.EqualTo((false, 2)));
            Assert.That((lines[1]["truncated"]!.GetValue<bool>(), lines[1]["text_tokens"]!.GetValue<int>()), Is.EqualTo((true, 20)));
            var tokens = lines[1]["tokens"]!.AsArray().Select(t => t!["token"]!.GetValue<string>()).ToList();
            Assert.That(tokens, Has.Count.EqualTo(16));
            Assert.That((tokens[0], tokens[^1]), Is.EqualTo(("[CLS]", "[SEP]")));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Test]
    public void JsonNumbersWriteNonFiniteValuesAsNull()
    {
        var o = new System.Text.Json.Nodes.JsonObject
        {
            ["nan"] = Electra.Train.Reporting.JsonNumbers.Finite(double.NaN, 3),
            ["inf"] = Electra.Train.Reporting.JsonNumbers.Finite(float.NegativeInfinity),
            ["x"] = Electra.Train.Reporting.JsonNumbers.Finite(0.12345, 3),
            ["f"] = Electra.Train.Reporting.JsonNumbers.Finite(1.5f),
        };
        Assert.That(o.ToJsonString(), Is.EqualTo("""{"nan":null,"inf":null,"x":0.123,"f":1.5}"""));
        Assert.Throws<ArgumentException>(() => new System.Text.Json.Nodes.JsonObject { ["nan"] = double.NaN }.ToJsonString(),
            "what the helper is for: System.Text.Json refuses NaN");
    }

    [Test]
    public void AMissingModelDirectoryIsNamed()
    {
        var ex = Assert.Throws<DirectoryNotFoundException>(() => ModelLoading.DiscriminatorDir("/nonexistent/run"));
        Assert.That(ex!.Message, Does.Contain("/nonexistent/run").And.Contain("config.json"));
    }

    [Test]
    public void PretrainCommandRejectsBadArgumentsWithExitCodeOne()
    {
        var root = new System.CommandLine.RootCommand();
        foreach (var c in CommandList.All()) root.Subcommands.Add(c);
        var error = new StringWriter();
        var saved = Console.Error;
        int code;
        try
        {
            Console.SetError(error);
            code = root.Parse(["pretrain", "--steps", "0", "--data", "/nonexistent", "--device", "cpu"]).Invoke();
        }
        finally
        {
            Console.SetError(saved);
        }
        Assert.That(code, Is.EqualTo(1));
        Assert.That(error.ToString(), Does.Contain("--steps must be at least 1"));
    }
}
