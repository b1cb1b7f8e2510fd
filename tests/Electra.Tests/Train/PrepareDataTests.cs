using System.CommandLine;
using System.Text;
using Electra.Train.Commands;
using Electra.Train.Data;

namespace Electra.Tests.Train;

public class PrepareDataTests
{
    private static readonly Lazy<WordPieceTokenizer> Bert = new(() => WordPieceTokenizer.Load());
    private string _dir = "";

    [SetUp]
    public void SetUp() => _dir = Directory.CreateTempSubdirectory("electra-prep-").FullName;

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    // Words that are single WordPieces in bert-base-uncased, so token counts are predictable.
    private static readonly string[] Words =
        ["the", "cat", "sat", "on", "a", "mat", "dog", "ran", "home", "big", "red", "house", "we", "saw", "it", "tree", "sun", "day", "old", "man"];

    private static string Sentence(Random random, int minWords, int maxWords)
    {
        int n = random.Next(minWords, maxWords + 1);
        var words = Enumerable.Range(0, n).Select(_ => Words[random.Next(Words.Length)]).ToArray();
        words[0] = char.ToUpperInvariant(words[0][0]) + words[0][1..];
        return string.Join(' ', words) + ".";
    }

    private string WriteFile(string name, string text)
    {
        var path = Path.Combine(_dir, "corpus", name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text, new UTF8Encoding(false));
        return path;
    }

    private string SmallCorpus()
    {
        var random = new Random(7);
        string Paragraph(int sentences) => string.Join(' ', Enumerable.Range(0, sentences).Select(_ => Sentence(random, 3, 12)));
        WriteFile("a.txt", Paragraph(40) + "\n\n" + Paragraph(3) + "\n" + Paragraph(25) + "\n");
        WriteFile("sub/b.txt", Paragraph(60));
        WriteFile("sub/deeper/c.txt", "One lonely line.\n");
        WriteFile("ignored.md", Paragraph(10));
        return Path.Combine(_dir, "corpus");
    }

    private (ShardManifest, CorpusStats) Prepare(string input, string outName, int seqLen, ulong seed = 1, int shardSize = 1000) =>
        DataPreparer.Run(new PrepareDataOptions([input], Path.Combine(_dir, outName), seqLen, seed, shardSize), Bert.Value);

    private static List<PackedExample> ReadAll(string dir)
    {
        using var data = ShardDataset.Open(dir, Bert.Value);
        return Enumerable.Range(0, data.Count).Select(data.GetExample).ToList();
    }

    /// <summary>[CLS] first; [SEP] closing segment A; a second [SEP] exactly at the end when B exists; no others.</summary>
    private static void AssertWellFormed(PackedExample e, int seqLen, WordPieceTokenizer tok)
    {
        Assert.That(e.Length, Is.InRange(3, seqLen));
        Assert.That(e.Ids[0], Is.EqualTo(tok.ClsId));
        Assert.That(e.Ids[e.SegmentALength - 1], Is.EqualTo(tok.SepId));
        Assert.That(e.Ids[^1], Is.EqualTo(tok.SepId));
        int seps = e.Ids.Count(id => id == tok.SepId);
        Assert.That(seps, Is.EqualTo(e.IsSingleSegment ? 1 : 2));
        Assert.That(e.Ids.Count(id => id == tok.ClsId), Is.EqualTo(1));
        if (!e.IsSingleSegment) Assert.That(e.Length - e.SegmentALength, Is.GreaterThanOrEqualTo(2), "segment B holds at least one token");
        Assert.That(e.Ids.Contains(tok.PadId), Is.False);
    }

    [Test]
    public void SmallCorpusGivesWellFormedExamplesFromAllTxtFilesRecursively()
    {
        var (manifest, stats) = Prepare(SmallCorpus(), "out", 64, shardSize: 7);
        Assert.That(stats.Files, Is.EqualTo(3), "a.txt, sub/b.txt, sub/deeper/c.txt; not ignored.md");
        Assert.That(stats.Documents, Is.EqualTo(4), "a.txt has two documents (blank line), b and c one each");
        Assert.That(manifest.Shards.Count, Is.EqualTo((int)Math.Ceiling(manifest.Examples / 7.0)));
        var examples = ReadAll(Path.Combine(_dir, "out"));
        Assert.That(examples.Count, Is.EqualTo(manifest.Examples));
        Assert.That(examples.Sum(e => (long)e.Length), Is.EqualTo(manifest.Tokens));
        foreach (var e in examples) AssertWellFormed(e, 64, Bert.Value);
        Assert.That(examples.Count(e => !e.IsSingleSegment), Is.GreaterThan(examples.Count / 2));
        // c.txt's only sentence is its own example: documents never share an example.
        var lonely = Bert.Value.EncodeWithSpecialTokens("One lonely line.");
        Assert.That(examples.Count(e => e.Ids.SequenceEqual(lonely)), Is.EqualTo(1));
    }

    [Test]
    public void SegmentsAreContiguousTextCutAtASentenceBoundary()
    {
        // Sentences of consecutive ids (1..13 tokens): A must be a prefix of the example's text and B must start at
        // the first sentence boundary at or after A's end, continuing the text.
        var builder = new ExampleBuilder(64, clsId: 2, sepId: 3, new DataRandom(5, DataRandom.ExampleBuilderOffset));
        int next = 10;
        var pending = new List<int[]>();
        var examples = new List<(PackedExample Example, List<int[]> Sentences)>();
        for (int s = 0; s < 3000; s++)
        {
            var sentence = Enumerable.Range(next, 1 + s * 7 % 13).ToArray();
            next += sentence.Length;
            pending.Add(sentence);
            if (builder.AddSentence(sentence) is { } e)
            {
                examples.Add((e, [.. pending]));
                pending.Clear();
            }
        }
        Assert.That(examples.Count, Is.GreaterThan(200));
        var sentencesInA = new HashSet<int>();
        foreach (var (e, source) in examples)
        {
            Assert.That(e.Length, Is.LessThanOrEqualTo(64));
            var flat = source.SelectMany(x => x).ToArray();
            var a = e.Ids[1..(e.SegmentALength - 1)];
            Assert.That(a, Is.EqualTo(flat[..a.Length]), "segment A is the start of the text");
            if (e.IsSingleSegment) continue;
            int k = 0, boundary = 0;
            while (boundary < a.Length) boundary += source[k++].Length;
            sentencesInA.Add(k);
            var b = e.Ids[e.SegmentALength..^1];
            Assert.That(b, Is.EqualTo(flat[boundary..(boundary + b.Length)]), "segment B continues at a sentence boundary");
        }
        Assert.That(sentencesInA.Count, Is.GreaterThan(2), "the cut falls after varying numbers of sentences");
    }

    [Test]
    public void SingleSegmentAndShortTargetProportionsMatchTheRecipe()
    {
        // One long document of 1-3 word sentences (2-4 tokens): a two-segment draw always yields a non-empty B,
        // and a full-length target always fills T, so single-segment and shorter-than-T examples count the draws.
        const int T = 64;
        var random = new Random(11);
        var text = new StringBuilder();
        for (int i = 0; i < 110_000; i++) text.Append(Sentence(random, 1, 3)).Append(' ');
        var path = WriteFile("long.txt", text.ToString());
        var (manifest, _) = Prepare(path, "out", T, seed: 3, shardSize: 100_000);
        var examples = ReadAll(Path.Combine(_dir, "out"));
        int n = examples.Count - 1; // the document's final example is cut by the end of text, not by a draw
        Assert.That(n, Is.GreaterThan(4000));
        double single = examples.Take(n).Count(e => e.IsSingleSegment) / (double)n;
        double shorter = examples.Take(n).Count(e => e.Length < T) / (double)n;
        double sdSingle = Math.Sqrt(0.1 * 0.9 / n), sdShort = Math.Sqrt(0.05 * 0.95 / n);
        Assert.That(single, Is.InRange(0.1 - 4 * sdSingle, 0.1 + 4 * sdSingle), $"single-segment fraction over {n} examples");
        // Targets drawn in [61, 64] can still fill T: at least 56/60 of the 5% draws give a shorter example.
        Assert.That(shorter, Is.InRange(0.05 * 56 / 60 - 4 * sdShort, 0.05 + 4 * sdShort), $"shorter-than-T fraction over {n} examples");
        Assert.That(examples.Take(n).Min(e => e.Length), Is.LessThan(20), "short targets reach down towards 5 tokens");
        Assert.That(manifest.Examples, Is.EqualTo(examples.Count));
    }

    [Test]
    public void EqualSeedsGiveIdenticalShardsAndOtherSeedsDiffer()
    {
        var corpus = SmallCorpus();
        Prepare(corpus, "one", 32, seed: 42, shardSize: 10);
        Prepare(corpus, "two", 32, seed: 42, shardSize: 10);
        Prepare(corpus, "three", 32, seed: 43, shardSize: 10);
        var one = Directory.GetFiles(Path.Combine(_dir, "one")).Select(Path.GetFileName).Order().ToList();
        Assert.That(Directory.GetFiles(Path.Combine(_dir, "two")).Select(Path.GetFileName).Order(), Is.EqualTo(one));
        foreach (var name in one)
            Assert.That(File.ReadAllBytes(Path.Combine(_dir, "two", name!)), Is.EqualTo(File.ReadAllBytes(Path.Combine(_dir, "one", name!))), name);
        var a = ReadAll(Path.Combine(_dir, "one"));
        var c = ReadAll(Path.Combine(_dir, "three"));
        bool same = a.Count == c.Count && a.Zip(c).All(p => p.First.Ids.SequenceEqual(p.Second.Ids) && p.First.SegmentALength == p.Second.SegmentALength);
        Assert.That(same, Is.False, "seed 43 packs differently from seed 42");
    }

    [Test]
    public void BadInputsAreCountedNotFatal()
    {
        var corpus = Path.Combine(_dir, "corpus");
        WriteFile("good.txt", "A good sentence here. And another one!\n");
        WriteFile("empty.txt", "");
        WriteFile("blank.txt", " \n\n\t\n");
        // Three invalid sequences: a stray 0xFF, a lead byte cut by ASCII, and a 3-byte sequence missing its last byte.
        var bad = new List<byte>();
        bad.AddRange(Encoding.UTF8.GetBytes("Caf"));
        bad.Add(0xFF);
        bad.AddRange(Encoding.UTF8.GetBytes(" is open. Na"));
        bad.Add(0xC3);
        bad.AddRange(Encoding.UTF8.GetBytes("ve text. Euro "));
        bad.AddRange([0xE2, 0x82]);
        bad.AddRange(Encoding.UTF8.GetBytes(" sign. Fine caf\u00e9.\n"));
        File.WriteAllBytes(Path.Combine(corpus, "latin1.txt"), [.. bad]);
        // A 1.2 M-character line without any line break.
        var huge = new StringBuilder();
        var random = new Random(3);
        while (huge.Length < 1_200_000) huge.Append(Sentence(random, 3, 9)).Append(' ');
        WriteFile("huge.txt", huge.ToString());

        var (manifest, stats) = Prepare(corpus, "out", 128);
        Assert.That(stats.Files, Is.EqualTo(5));
        Assert.That(stats.EmptyFiles, Is.EqualTo(2));
        Assert.That(stats.InvalidUtf8Sequences, Is.EqualTo(3));
        Assert.That(stats.FilesWithInvalidUtf8, Is.EqualTo(1));
        Assert.That(stats.HugeLines, Is.EqualTo(1));
        Assert.That(stats.Warnings().Count(), Is.EqualTo(3));
        Assert.That(stats.Notes, Has.Some.Contains("latin1.txt: 3 invalid UTF-8"));
        Assert.That(manifest.Examples, Is.GreaterThan(1000), "the huge line's text still becomes examples");
        var examples = ReadAll(Path.Combine(_dir, "out"));
        foreach (var e in examples) AssertWellFormed(e, 128, Bert.Value);
        // The valid é in the same file still decodes: "café" is one example with the replaced words around it.
        var latin = examples.Single(e => Bert.Value.Decode(e.Ids).Contains("is open"));
        Assert.That(Bert.Value.Decode(latin.Ids), Does.Contain("fine cafe"));
    }

    [Test]
    public void LineReaderSplitsHugeLinesAtWhitespaceAndKeepsCharactersAcrossBufferEnds()
    {
        // 'é' is two bytes; placing many of them makes some straddle the reader's 64 KiB byte buffer.
        string line1 = string.Concat(Enumerable.Repeat("caf\u00e9 ", 30000));
        string text = line1 + "\r\nshort\n" + "x";
        using var reader = new Utf8LineReader(new MemoryStream(Encoding.UTF8.GetPreamble().Concat(Encoding.UTF8.GetBytes(text)).ToArray()), maxLineChars: 50000);
        var lines = new List<string>();
        while (reader.ReadLine() is { } l) lines.Add(l);
        Assert.That(reader.InvalidSequences, Is.Zero);
        Assert.That(reader.HugeLines, Is.EqualTo(1));
        Assert.That(string.Concat(lines.Take(lines.Count - 2)), Is.EqualTo(line1));
        Assert.That(lines.Take(lines.Count - 3).All(l => l.Length <= 50000 && l.EndsWith(' ')), Is.True, "pieces end at a space");
        Assert.That(lines[^2..], Is.EqualTo(new[] { "short", "x" }));
    }

    [Test]
    public void SentenceSplitterCutsAtTerminalPunctuationFollowedBySpace()
    {
        Assert.That(SentenceSplitter.Split("Hello world. How are you?  Fine!"), Is.EqualTo(new[] { "Hello world.", "How are you?", "Fine!" }));
        Assert.That(SentenceSplitter.Split("Pi is 3.14 exactly... Right"), Is.EqualTo(new[] { "Pi is 3.14 exactly...", "Right" }));
        Assert.That(SentenceSplitter.Split("He said \"stop.\" Then (he left.) Done"), Is.EqualTo(new[] { "He said \"stop.\"", "Then (he left.)", "Done" }));
        Assert.That(SentenceSplitter.Split("   "), Is.Empty);
    }

    [Test]
    public void MissingInputAndEmptyCorpusGiveClearErrors()
    {
        var missing = Path.Combine(_dir, "nowhere");
        Assert.That(Assert.Throws<FileNotFoundException>(() => Prepare(missing, "out", 128))!.Message, Does.Contain(missing));
        var empty = WriteFile("e.txt", "\n\n");
        Assert.That(Assert.Throws<InvalidDataException>(() => Prepare(empty, "out", 128))!.Message, Does.Contain("hold no text"));
        var noTxt = Path.Combine(_dir, "notxt");
        Directory.CreateDirectory(noTxt);
        Assert.That(Assert.Throws<InvalidDataException>(() => Prepare(noTxt, "out", 128))!.Message, Does.Contain("no .txt files"));
    }

    [Test]
    public void CommandLineRunsPrepareData()
    {
        var corpus = SmallCorpus();
        var output = Path.Combine(_dir, "cli");
        var root = new RootCommand();
        foreach (var c in CommandList.All()) root.Subcommands.Add(c);
        int rc = root.Parse(["prepare-data", "--input", corpus, "--seq", "48", "--out", output, "--seed", "9", "--shard-size", "5"]).Invoke();
        Assert.That(rc, Is.Zero);
        var manifest = ShardManifest.Load(output);
        Assert.That((manifest.SeqLen, manifest.Seed, manifest.VocabHash), Is.EqualTo((48, 9UL, "07eced375cec144d")));
        Assert.That(manifest.Shards.Count, Is.EqualTo((int)Math.Ceiling(manifest.Examples / 5.0)));
        int bad = root.Parse(["prepare-data", "--input", Path.Combine(_dir, "absent"), "--out", output]).Invoke();
        Assert.That(bad, Is.EqualTo(1));
    }

    [Test]
    public void UnknownShareIsOfTheTextsTokensEvenWhenPackingCutsASentence()
    {
        // 100 emoji words ([UNK] each) in one sentence, far longer than T = 16, then three known tokens: packing keeps
        // at most 16 ids of the sentence, but the share counts what the tokenizer made of the text.
        var path = WriteFile("unk.txt", string.Join(' ', Enumerable.Repeat("\U0001F600", 100)) + " and then. The cat.\n");
        var (manifest, stats) = Prepare(path, "out", 16);
        Assert.That(stats.UnknownTokens, Is.EqualTo(100));
        Assert.That(stats.TextTokens, Is.EqualTo(100 + 3 + 3), "100 [UNK], \"and then .\", \"the cat .\"");
        Assert.That(stats.UnknownShare, Is.EqualTo(100.0 / 106));
        Assert.That(manifest.Tokens, Is.LessThan(stats.UnknownTokens), "the shards hold fewer tokens than the [UNK] count");
        Assert.That(ShardManifest.Load(Path.Combine(_dir, "out")).Corpus!.TextTokens, Is.EqualTo(106), "recorded in the manifest");
    }

    [Test]
    public void CurrencySignsReachTheShards()
    {
        var path = WriteFile("money.txt", "It cost $5, or £3 and €4 at 20 °C.\n");
        Prepare(path, "out", 32);
        var ids = ReadAll(Path.Combine(_dir, "out")).Single().Ids;
        var tokens = ids.Select(Bert.Value.TokenOf).ToArray();
        Assert.That(tokens, Is.EqualTo(new[] { "[CLS]", "it", "cost", "$", "5", ",", "or", "£", "3", "and", "€", "4", "at", "20", "°", "c", ".", "[SEP]" }));
        Assert.That(ids, Does.Contain(1002), "id 1002 is $");
    }

    [Test]
    public void RealStateOfTheUnionFilesPrepare()
    {
        var sotu = TestData.RequireShared("corpus/sotu");
        var files = Directory.GetFiles(sotu, "*.txt").Order(StringComparer.Ordinal).Take(3).ToList();
        var output = Path.Combine(_dir, "sotu");
        var (manifest, stats) = DataPreparer.Run(new PrepareDataOptions(files, output, 128, 1, 1000), Bert.Value);
        Assert.That(stats.Files, Is.EqualTo(3));
        Assert.That(stats.Warnings(), Is.Empty);
        Assert.That(manifest.Examples, Is.GreaterThan(30));
        Assert.That(stats.UnknownTokens, Is.LessThan(stats.Tokens / 1000));
        var examples = ReadAll(output);
        foreach (var e in examples) AssertWellFormed(e, 128, Bert.Value);
        Assert.That(examples.Count(e => e.Length == 128), Is.GreaterThan(examples.Count * 3 / 4), "most examples fill T");
        // Washington's 1790 address opens with "Fellow-Citizens of the Senate and House of Representatives".
        Assert.That(Bert.Value.Decode(examples[0].Ids[1..12]), Does.StartWith("fellow - citizens of the senate"));
    }
}
