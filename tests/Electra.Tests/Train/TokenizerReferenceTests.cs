using System.Globalization;
using System.Text;
using Electra.Train.Data;
using Microsoft.ML.Tokenizers;
using WordPieceTokenizer = Electra.Train.Data.WordPieceTokenizer;

namespace Electra.Tests.Train;

/// <summary>
/// Our WordPiece against Microsoft.ML.Tokenizers' BertTokenizer on the bundled vocabulary, over text in many scripts.
/// BertTokenizer is the reference for lowercasing, CJK spacing and greedy longest-match WordPiece with [UNK]; two of
/// its defaults differ from BERT's basic tokenizer and are set to BERT's rule here: its pre-tokenizer (\w+ runs and
/// P* marks, which drops "$", "°", "½", emoji and spacing vowel signs) is replaced by a split on whitespace, P*, S*
/// and ASCII symbols, and its mark removal (which also removes spacing marks, Mc) is off and given text that
/// <see cref="WordPieceTokenizer.StripAccents"/> already folded, since under the project's InvariantGlobalization
/// its string.Normalize cannot decompose.
/// </summary>
public class TokenizerReferenceTests
{
    private static readonly Lazy<WordPieceTokenizer> Ours = new(() => WordPieceTokenizer.Load());

    private static readonly string[] MixedScript =
    [
        "The quick brown fox jumps over the lazy dog.",
        "$5 — 10% £3 ° ± × ½ © → ♥ €20, ¥1000 and 3½ miles at −4 °C; x² + y² = r².",
        "Café NAÏVE Ångström, façade, déjà vu, São Paulo, Straße, Łódź, Dvořák, İstanbul ıi.",
        "Ελληνικά: Η γρήγορη καφέ αλεπού. Русский: Съешь же ещё этих мягких французских булок!",
        "中文：我爱北京天安门。日本語のテキスト、カタカナとひらがな。漢字「東京」",
        "한국어 텍스트: 안녕하세요, 세계! 대한민국",
        "العربية: مرحبا بالعالم. עברית: שלום עולם.",
        "हिन्दी: नमस्ते दुनिया। বাংলা ভাষা। தமிழ் மொழி",
        "ภาษาไทย สวัสดีครับ, Tiếng Việt: Chào thế giới, người Việt.",
        "Emoji 😀👍🏽 and ♠♣ symbols ™ ® • … “quoted” ‘single’ «guillemets» ¿qué? ¡sí!",
        "URLs like https://example.com/a_b?c=d&e=f#g and mail@example.org, C++ and C#; a|b ~ c^d `e` {f} [g] <h>",
        "ＦＵＬＬＷＩＤＴＨ ｔｅｘｔ １２３ and ﬁ ligatures, Ⅻ numerals, ① circled",
        "unaffable antidisestablishmentarianism " + new string('a', WordPieceTokenizer.MaxCharsPerWord) + " " + new string('b', WordPieceTokenizer.MaxCharsPerWord + 1),
        "a [SEP] b [MASK] [CLS] literal special tokens stay text",
    ];

    private static BertTokenizer Reference()
    {
        using var vocab = File.OpenRead(WordPieceTokenizer.DefaultVocabPath);
        return BertTokenizer.Create(vocab, new BertOptions
        {
            LowerCaseBeforeTokenization = true,
            RemoveNonSpacingMarks = false,
            SplitOnSpecialTokens = false,
            IndividuallyTokenizeCjk = true,
            PreTokenizer = new BertRuleSplit(),
        });
    }

    [Test]
    public void MatchesBertTokenizerOnMixedScriptText()
    {
        var reference = Reference();
        var tokenizer = Ours.Value;
        foreach (var text in MixedScript)
        {
            var expected = reference.EncodeToIds(WordPieceTokenizer.StripAccents(text), addSpecialTokens: false);
            var actual = tokenizer.Encode(text);
            Assert.That(actual.Select(tokenizer.TokenOf), Is.EqualTo(expected.Select(tokenizer.TokenOf)), text);
        }
    }

    [Test]
    public void TheMixedScriptSetExercisesSymbolsUnknownsAndLongWords()
    {
        // Guards the comparison above against a text set that would pass without the cases it is for.
        var tokenizer = Ours.Value;
        var tokens = MixedScript.SelectMany(t => tokenizer.Encode(t).Select(tokenizer.TokenOf)).ToList();
        Assert.That(tokens, Does.Contain("$").And.Contain("£").And.Contain("°").And.Contain("½").And.Contain("♥").And.Contain("→"));
        Assert.That(tokens, Does.Contain("##ि"), "Devanagari spacing vowel signs (Mc) stay");
        Assert.That(tokens, Does.Contain("ᄒ"), "Hangul decomposes into jamo");
        Assert.That(tokens.Count(t => t == "[UNK]"), Is.InRange(3, tokens.Count / 10), "emoji and the 101-character word");
        Assert.That(tokens, Has.Some.Matches<string>(t => t.StartsWith("##", StringComparison.Ordinal) && t.Length > 3));
    }

    /// <summary>
    /// BERT's split, restated for the reference: whitespace separates words, and every ASCII symbol and every P* or
    /// S* character is a word of its own.
    /// </summary>
    private sealed class BertRuleSplit : PreTokenizer
    {
        public override IEnumerable<(int Offset, int Length)> PreTokenize(string text) => Split(text);

        public override IEnumerable<(int Offset, int Length)> PreTokenize(ReadOnlySpan<char> text) => Split(text.ToString());

        private static List<(int Offset, int Length)> Split(string text)
        {
            var words = new List<(int, int)>();
            int start = -1;
            for (int i = 0; i < text.Length;)
            {
                var rune = Rune.GetRuneAt(text, i);
                int n = rune.Utf16SequenceLength;
                bool space = Rune.IsWhiteSpace(rune);
                bool alone = !space && (rune.IsAscii ? !char.IsAsciiLetterOrDigit((char)rune.Value) : IsPunctuationOrSymbol(rune));
                if ((space || alone) && start >= 0)
                {
                    words.Add((start, i - start));
                    start = -1;
                }
                if (alone) words.Add((i, n));
                else if (!space && start < 0) start = i;
                i += n;
            }
            if (start >= 0) words.Add((start, text.Length - start));
            return words;
        }

        private static bool IsPunctuationOrSymbol(Rune rune) => Rune.GetUnicodeCategory(rune) is UnicodeCategory.ConnectorPunctuation
            or UnicodeCategory.DashPunctuation or UnicodeCategory.OpenPunctuation or UnicodeCategory.ClosePunctuation
            or UnicodeCategory.InitialQuotePunctuation or UnicodeCategory.FinalQuotePunctuation or UnicodeCategory.OtherPunctuation
            or UnicodeCategory.MathSymbol or UnicodeCategory.CurrencySymbol or UnicodeCategory.ModifierSymbol or UnicodeCategory.OtherSymbol;
    }
}
