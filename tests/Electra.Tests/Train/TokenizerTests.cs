using System.Security.Cryptography;
using System.Text;
using Electra.Train.Data;

namespace Electra.Tests.Train;

public class TokenizerTests
{
    private string _dir = "";

    [SetUp]
    public void SetUp() => _dir = Directory.CreateTempSubdirectory("electra-vocab-").FullName;

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    private string WriteVocab(string text, string name = "vocab.txt")
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, text, new UTF8Encoding(false));
        return path;
    }

    private static readonly string[] Specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];

    [Test]
    public void BundledVocabEncodesTheToolchainExample()
    {
        var tokenizer = WordPieceTokenizer.Load();
        int[] expected = [101, 1996, 4248, 2829, 4419, 14523, 2058, 1996, 13971, 3899, 1012, 102];
        const string text = "The quick brown fox jumps over the lazy dog.";
        Assert.That(tokenizer.EncodeWithSpecialTokens(text), Is.EqualTo(expected));
        Assert.That(tokenizer.Encode(text), Is.EqualTo(expected[1..^1]));
    }

    [Test]
    public void AccentsAreStrippedAndLiteralSpecialTokensInTextStayText()
    {
        var tokenizer = WordPieceTokenizer.Load();
        Assert.That(tokenizer.Encode("Café NAÏVE Ångström"), Is.EqualTo(tokenizer.Encode("cafe naive angstrom")));
        Assert.That(tokenizer.Encode("cafe\u0301"), Is.EqualTo(tokenizer.Encode("cafe")), "a lone combining mark goes too");
        Assert.That(tokenizer.Encode("café"), Does.Not.Contain(tokenizer.UnkId));
        var ids = tokenizer.Encode("a [SEP] b [MASK]");
        Assert.That(ids, Does.Not.Contain(tokenizer.SepId).And.Not.Contain(tokenizer.MaskId));
        Assert.That(tokenizer.Decode(ids), Is.EqualTo("a [ sep ] b [ mask ]"));
    }

    [Test]
    public void SymbolsAndPunctuationAreTokensOfTheirOwn()
    {
        // The issue's example: every one of these is in bert-base-uncased, and none may vanish.
        var tokenizer = WordPieceTokenizer.Load();
        var tokens = tokenizer.Encode("$5 — 10% £3 ° ± × ½").Select(tokenizer.TokenOf);
        Assert.That(tokens, Is.EqualTo(new[] { "$", "5", "—", "10", "%", "£", "3", "°", "±", "×", "½" }));
        Assert.That(tokenizer.Encode("US$"), Is.EqualTo(new[] { tokenizer.Vocabulary.IdOf("us"), 1002 }));
        Assert.That(tokenizer.Encode("©→♥€").Select(tokenizer.TokenOf), Is.EqualTo(new[] { "©", "→", "♥", "€" }));
        Assert.That(BasicTokenizer.Split("x²=½·π"), Is.EqualTo(new[] { "x²", "=", "½", "·", "π" }), "No (², ½) is part of a word, as in BERT");
    }

    [Test]
    public void OnlyWhatTheVocabularyLacksBecomesUnk()
    {
        var path = WriteVocab(string.Join("\n", Specials.Concat(["$", "5", "ok", "a", "##a"])) + "\n");
        var tokenizer = WordPieceTokenizer.Load(path);
        int unk = tokenizer.UnkId;
        // € is a symbol the vocabulary lacks: one [UNK] for it alone, not for "€5"; the emoji likewise.
        Assert.That(tokenizer.Encode("$5 €5 ok😀ok"), Is.EqualTo(new[] { 5, 6, unk, 6, 7, unk, 7 }));
        Assert.That(tokenizer.Encode("okay"), Is.EqualTo(new[] { unk }), "a word with an unmatched rest is one [UNK]");
        Assert.That(tokenizer.Encode(new string('a', WordPieceTokenizer.MaxCharsPerWord)), Has.Count.EqualTo(100).And.All.Not.EqualTo(unk));
        Assert.That(tokenizer.Encode(new string('a', WordPieceTokenizer.MaxCharsPerWord + 1)), Is.EqualTo(new[] { unk }));
    }

    [Test]
    public void ControlAndFormatCharactersGoAndLineBreaksSeparateWords()
    {
        var tokenizer = WordPieceTokenizer.Load();
        var words = tokenizer.Encode("cooperate ab x y z");
        // Soft hyphen and zero-width space are Cf, NUL and DEL Cc, U+FFFD and a lone surrogate stand for bad input.
        Assert.That(tokenizer.Encode("co\u00ADoperate a\u200Bb x\ty\r\nz"), Is.EqualTo(words));
        Assert.That(tokenizer.Encode("co\0operate a\u007Fb\uFFFD x\uD800 y\u2028z"), Is.EqualTo(words));
    }

    [Test]
    public void HangulSyllablesBecomeJamoAsInBertUncased()
    {
        Assert.That(WordPieceTokenizer.StripAccents("한국"), Is.EqualTo("\u1112\u1161\u11AB\u1100\u116E\u11A8"));
        var tokenizer = WordPieceTokenizer.Load();
        Assert.That(tokenizer.Encode("한").Select(tokenizer.TokenOf), Is.EqualTo(new[] { "ᄒ", "##ᅡ", "##ᆫ" }));
        Assert.That(tokenizer.Encode("가"), Does.Not.Contain(tokenizer.UnkId), "a syllable without a final consonant: two jamo");
    }

    [Test]
    public void BundledVocabHasBertSpecialIdsSizeAndHash()
    {
        var tokenizer = WordPieceTokenizer.Load();
        Assert.That(tokenizer.VocabSize, Is.EqualTo(30522));
        Assert.That((tokenizer.PadId, tokenizer.UnkId, tokenizer.ClsId, tokenizer.SepId, tokenizer.MaskId), Is.EqualTo((0, 100, 101, 102, 103)));
        // SHA-256 of bert-base-uncased vocab.txt is 07eced37...; the hash is its first 8 bytes.
        Assert.That(tokenizer.VocabHash, Is.EqualTo("07eced375cec144d"));
    }

    [Test]
    public void HashIsTheFirstEightBytesOfSha256OfTheFile()
    {
        var path = WriteVocab(string.Join("\n", Specials.Concat(["hello"])) + "\n");
        var expected = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path))[..8]);
        Assert.That(Vocabulary.Load(path).Hash, Is.EqualTo(expected));
        var other = WriteVocab(string.Join("\n", Specials.Concat(["world"])) + "\n", "other.txt");
        Assert.That(Vocabulary.Load(other).Hash, Is.Not.EqualTo(expected));
    }

    [Test]
    public void TinyVocabSplitsWordPiecesAndLowercases()
    {
        var path = WriteVocab(string.Join("\n", Specials.Concat(["un", "##aff", "##able", "hello", "."])) + "\n");
        var tokenizer = WordPieceTokenizer.Load(path);
        Assert.That(tokenizer.Encode("Hello unaffable."), Is.EqualTo(new[] { 8, 5, 6, 7, 9 }));
        Assert.That(tokenizer.Encode("zebra"), Is.EqualTo(new[] { tokenizer.UnkId }));
        Assert.That((tokenizer.PadId, tokenizer.ClsId, tokenizer.MaskId), Is.EqualTo((0, 2, 4)));
    }

    [Test]
    public void CrLfLineEndsAndAByteOrderMarkAreAccepted()
    {
        var path = Path.Combine(_dir, "crlf.txt");
        File.WriteAllText(path, "\uFEFF" + string.Join("\r\n", Specials.Concat(["hello"])) + "\r\n", new UTF8Encoding(false));
        var vocab = Vocabulary.Load(path);
        Assert.That(vocab.Count, Is.EqualTo(6));
        Assert.That(vocab.IdOf("[PAD]"), Is.Zero);
        Assert.That(vocab.IdOf("hello"), Is.EqualTo(5));
    }

    [Test]
    public void EmptyFileIsRejected()
    {
        var path = WriteVocab("");
        var ex = Assert.Throws<InvalidDataException>(() => Vocabulary.Load(path));
        Assert.That(ex!.Message, Does.StartWith(path).And.Contain("empty vocabulary file"));
        var blank = WriteVocab("\n \n", "blank.txt");
        Assert.That(Assert.Throws<InvalidDataException>(() => Vocabulary.Load(blank))!.Message, Does.Contain("empty vocabulary file"));
    }

    [Test]
    public void EmptyLineNamesItsLineNumber()
    {
        var path = WriteVocab("[PAD]\n[UNK]\n[CLS]\n\n[SEP]\n[MASK]\n");
        var ex = Assert.Throws<InvalidDataException>(() => Vocabulary.Load(path));
        Assert.That(ex!.Message, Is.EqualTo($"{path} line 4: empty token (every line must hold one token)"));
    }

    [Test]
    public void WhitespaceOnlyTokenIsAnEmptyToken()
    {
        var path = WriteVocab("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n  \t\nx\n");
        Assert.That(Assert.Throws<InvalidDataException>(() => Vocabulary.Load(path))!.Message, Does.StartWith($"{path} line 6: empty token"));
    }

    [Test]
    public void DuplicateTokenNamesBothLines()
    {
        var path = WriteVocab("[PAD]\n[UNK]\nthe\n[CLS]\n[SEP]\n[MASK]\nthe\n");
        var ex = Assert.Throws<InvalidDataException>(() => Vocabulary.Load(path));
        Assert.That(ex!.Message, Is.EqualTo($"{path} line 7: duplicate token \"the\" (first at line 3)"));
    }

    [Test]
    public void MissingSpecialTokensAreListed()
    {
        var path = WriteVocab("[PAD]\n[UNK]\n[CLS]\nhello\n");
        var ex = Assert.Throws<InvalidDataException>(() => Vocabulary.Load(path));
        Assert.That(ex!.Message, Does.StartWith(path).And.Contain("missing special token(s) [SEP], [MASK]"));
    }

    [Test]
    public void MoreTokensThanUInt16IdsCanHoldIsRejected()
    {
        var tokens = Specials.Concat(Enumerable.Range(0, 65531).Select(i => $"w{i}")).ToList();
        Assert.That(tokens.Count, Is.EqualTo(65536));
        var path = WriteVocab(string.Join("\n", tokens) + "\n");
        var ex = Assert.Throws<InvalidDataException>(() => Vocabulary.Load(path));
        Assert.That(ex!.Message, Does.StartWith(path).And.Contain("65536 tokens, more than the 65535"));
        var fits = WriteVocab(string.Join("\n", tokens.Take(65535)) + "\n", "fits.txt");
        Assert.That(Vocabulary.Load(fits).Count, Is.EqualTo(65535));
    }

    [Test]
    public void InvalidUtf8VocabIsRejected()
    {
        var path = Path.Combine(_dir, "bad.txt");
        File.WriteAllBytes(path, [.. Encoding.ASCII.GetBytes("[PAD]\n[UNK]\n"), 0xFF, 0x0A]);
        Assert.That(Assert.Throws<InvalidDataException>(() => Vocabulary.Load(path))!.Message, Does.StartWith(path).And.Contain("not valid UTF-8"));
    }

    [Test]
    public void MissingFileNamesThePath()
    {
        var path = Path.Combine(_dir, "nope.txt");
        Assert.That(Assert.Throws<FileNotFoundException>(() => Vocabulary.Load(path))!.Message, Does.Contain(path));
    }
}
