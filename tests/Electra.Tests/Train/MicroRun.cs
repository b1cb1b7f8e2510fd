using Electra.Model;
using Electra.Train.Data;

namespace Electra.Tests.Train;

/// <summary>What the command-line tests of runs share: a small prepared corpus and a model that trains in a blink.</summary>
public static class MicroRun
{
    public static ElectraConfig Discriminator => new()
    {
        EmbeddingSize = 16, HiddenSize = 32, NumHiddenLayers = 1, NumAttentionHeads = 2, IntermediateSize = 64, MaxPositionEmbeddings = 64,
    };

    public static ElectraConfig Generator => Discriminator with { HiddenSize = 16, NumAttentionHeads = 1, IntermediateSize = 32, Architectures = ["ElectraForMaskedLM"] };

    /// <summary>Writes the two configs into <paramref name="dir"/> for --config and --generator-config.</summary>
    public static (string Discriminator, string Generator) SaveConfigs(string dir)
    {
        var (disc, gen) = (Path.Combine(dir, "micro.json"), Path.Combine(dir, "micro-gen.json"));
        Discriminator.Save(disc);
        Generator.Save(gen);
        return (disc, gen);
    }

    /// <summary>
    /// Shards (T = 32) of a made-up corpus of <paramref name="documents"/> × <paramref name="sentences"/> in
    /// <paramref name="dir"/>/<paramref name="name"/>; another seed, other text.
    /// </summary>
    public static string Shards(string dir, string name, WordPieceTokenizer tokenizer, int corpusSeed, int documents = 8, int sentences = 25)
    {
        var text = Path.Combine(dir, name + ".txt");
        var words = "the nation congress people states government year war peace law world work country great public time".Split(' ');
        var rng = new Random(corpusSeed);
        using (var w = new StreamWriter(text))
        {
            for (int doc = 0; doc < documents; doc++)
            {
                for (int s = 0; s < sentences; s++)
                    w.Write(string.Join(' ', Enumerable.Range(0, rng.Next(5, 14)).Select(_ => words[rng.Next(words.Length)])) + ". ");
                w.WriteLine();
                w.WriteLine();
            }
        }
        var shards = Path.Combine(dir, name);
        DataPreparer.Run(new PrepareDataOptions([text], shards, 32, 1), tokenizer);
        return shards;
    }

    /// <summary>The bundled vocabulary with "the" and "nation" swapped: same size, other ids.</summary>
    public static string PermutedVocab(string dir)
    {
        var lines = File.ReadAllLines(WordPieceTokenizer.DefaultVocabPath);
        int the = Array.IndexOf(lines, "the"), nation = Array.IndexOf(lines, "nation");
        (lines[the], lines[nation]) = (lines[nation], lines[the]);
        var path = Path.Combine(dir, "permuted-vocab.txt");
        File.WriteAllLines(path, lines);
        return path;
    }

    /// <summary>
    /// An untrained discriminator with <paramref name="positions"/> positions saved as an HF directory in
    /// <paramref name="dir"/>, and a text of <paramref name="words"/> one-token words (cat, dog, …) for it.
    /// </summary>
    public static string ShortDiscriminator(string dir, int positions, int words)
    {
        var config = new ElectraConfig { EmbeddingSize = 16, HiddenSize = 32, NumHiddenLayers = 1, NumAttentionHeads = 2, IntermediateSize = 64, MaxPositionEmbeddings = positions };
        var rng = new Random(1);
        using (var emb = new ElectraEmbeddings(config, rng, Device.Cpu))
        using (var disc = new Discriminator(config, emb, rng, Device.Cpu))
            Electra.Model.Checkpoints.HfCheckpoint.Save(dir, disc, config);
        return string.Join(' ', Enumerable.Range(0, words).Select(i => i % 2 == 0 ? "cat" : "dog"));
    }

    public static void CopyDirectory(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(to, Path.GetRelativePath(from, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
    }
}
