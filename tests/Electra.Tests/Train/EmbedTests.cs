using Electra.Model;
using Electra.Model.Checkpoints;
using Electra.Train;
using Electra.Train.Data;
using Electra.Train.FineTuning;

namespace Electra.Tests.Train;

public class EmbedTests
{
    [Test]
    public void ATruncatedTextIsSaidAndCountedInTheJson()
    {
        var dir = TestData.TempDir();
        try
        {
            string text = MicroRun.ShortDiscriminator(dir, positions: 16, words: 20);
            var r = Cli.Run("embed", "--model", dir, "--text", "short text", "--text", text, "--json", "--device", "cpu");
            Assert.That(r.Code, Is.Zero, r.ToString());
            Assert.That(r.Error.Trim(), Is.EqualTo(
                "embed: text 2 has 20 tokens, more than the model's 16 positions hold with [CLS] and [SEP]: only the first 14 are embedded"));
            var lines = r.Out.Trim().Split('\n').Select(l => System.Text.Json.Nodes.JsonNode.Parse(l)!).ToList();
            Assert.That((lines[0]["truncated"]!.GetValue<bool>(), lines[0]["text_tokens"]!.GetValue<int>()), Is.EqualTo((false, 2)));
            Assert.That((lines[1]["truncated"]!.GetValue<bool>(), lines[1]["text_tokens"]!.GetValue<int>()), Is.EqualTo((true, 20)));
            Assert.That(lines[1]["tokens"]!.AsArray(), Has.Count.EqualTo(16));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Test]
    public void PooledVectorIsTheMeanOfRealTokensAndIgnoresBatchPadding()
    {
        var tokenizer = WordPieceTokenizer.Load();
        var c = new ElectraConfig
        {
            VocabSize = tokenizer.VocabSize, EmbeddingSize = 16, HiddenSize = 24, NumHiddenLayers = 2, NumAttentionHeads = 2, IntermediateSize = 32, MaxPositionEmbeddings = 64,
        };
        using var encoder = new ElectraModel(c, new ElectraEmbeddings(c, new Random(1), Device.Cpu), new Random(2), Device.Cpu);
        encoder.Eval();
        var alone = Embedder.Embed(encoder, tokenizer, ["a short one"])[0];
        var both = Embedder.Embed(encoder, tokenizer, ["a short one", "a much longer sentence that forces padding onto the first one"]);

        Assert.That(alone.Tokens, Is.EqualTo(new[] { "[CLS]", "a", "short", "one", "[SEP]" }));
        Assert.That(alone.Hidden.Length, Is.EqualTo(5));
        Assert.That(alone.Hidden[0].Length, Is.EqualTo(24));
        for (int k = 0; k < 24; k++)
            Assert.That(alone.Pooled[k], Is.EqualTo(alone.Hidden.Average(r => r[k])).Within(1e-5), $"dimension {k}");
        // The attention mask keeps the padding added by a longer neighbour out of every real token's state.
        for (int t = 0; t < 5; t++)
            Assert.That(both[0].Hidden[t], Is.EqualTo(alone.Hidden[t]).Within(1e-4f), $"token {t}");
        Assert.That(Embedder.Cosine(both[0].Pooled, alone.Pooled), Is.EqualTo(1.0).Within(1e-6));
        Assert.That(Embedder.Cosine(both[0].Pooled, both[1].Pooled), Is.LessThan(0.9999));
    }

    [Test]
    public void CosineOfKnownVectors()
    {
        Assert.That(Embedder.Cosine([1, 0], [0, 1]), Is.EqualTo(0.0));
        Assert.That(Embedder.Cosine([1, 2], [2, 4]), Is.EqualTo(1.0).Within(1e-12));
        Assert.That(Embedder.Cosine([1, 1], [-1, 0]), Is.EqualTo(-Math.Sqrt(0.5)).Within(1e-12));
    }

    [Test]
    public void EmbedCommandPrintsJsonForABertBody()
    {
        var dir = TestData.TempDir();
        try
        {
            var tokenizer = WordPieceTokenizer.Load();
            var c = new ElectraConfig
            {
                VocabSize = tokenizer.VocabSize, EmbeddingSize = 16, HiddenSize = 16, NumHiddenLayers = 1, NumAttentionHeads = 2, IntermediateSize = 32, MaxPositionEmbeddings = 32,
                Architectures = ["BertModel"],
            };
            using var body = new ElectraModel(c, new ElectraEmbeddings(c, new Random(3), Device.Cpu), new Random(4), Device.Cpu);
            HfCheckpoint.Save(dir, body, c);
            var config = (System.Text.Json.Nodes.JsonObject)System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(dir, HfCheckpoint.ConfigFile)))!;
            config["model_type"] = "bert";
            config.Remove("embedding_size");
            File.WriteAllText(Path.Combine(dir, HfCheckpoint.ConfigFile), config.ToJsonString());
            var (encoder, info) = ModelLoading.LoadEncoder(dir, Device.Cpu);
            using (encoder) Assert.That(info.Architecture, Is.EqualTo("BertModel"));

            var root = new System.CommandLine.RootCommand();
            foreach (var cmd in Electra.Train.Commands.CommandList.All()) root.Subcommands.Add(cmd);
            var original = Console.Out;
            var output = new StringWriter();
            int code;
            try
            {
                Console.SetOut(output);
                code = root.Parse(["embed", "--model", dir, "--text", "good film", "--text", "bad film", "--json", "--pairs", "--device", "cpu"]).Invoke();
            }
            finally
            {
                Console.SetOut(original);
            }
            Assert.That(code, Is.Zero, output.ToString());
            var lines = output.ToString().Trim().Split('\n').Select(l => System.Text.Json.Nodes.JsonNode.Parse(l)!).ToList();
            Assert.That(lines, Has.Count.EqualTo(3));
            Assert.That(lines[0]["tokens"]!.AsArray().Count, Is.EqualTo(4));
            Assert.That(lines[0]["pooled"]!.AsArray().Count, Is.EqualTo(16));
            Assert.That(lines[1]["hidden"]!.AsArray()[0]!.AsArray().Count, Is.EqualTo(16));
            Assert.That(lines[2]["cosine"]![0]![0]!.GetValue<double>(), Is.EqualTo(1.0).Within(1e-5));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
