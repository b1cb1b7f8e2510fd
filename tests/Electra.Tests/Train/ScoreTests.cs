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
            var (tokens, probs) = ScoreCommand.Score(loaded, tokenizer, "The quick brown fox jumps over the lazy dog.");
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
