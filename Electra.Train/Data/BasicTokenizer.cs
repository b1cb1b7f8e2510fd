using System.Globalization;
using System.Text;

namespace Electra.Train.Data;

/// <summary>
/// BERT's uncased basic tokenizer: text → lowercased, accent-stripped words, ready for WordPiece. It splits off every
/// punctuation mark and symbol (Unicode categories P* and S*, and all ASCII symbols) as a word of its own, so "$5"
/// is "$" "5": a character the vocabulary holds is kept, and one it lacks becomes [UNK] in WordPiece — nothing is
/// dropped except what BERT drops on purpose (NUL, U+FFFD, control and format characters, combining marks).
/// Microsoft.ML.Tokenizers' BertTokenizer is not used for this: its default pre-tokenizer keeps only \w+ runs and
/// P* marks, so "$", "£", "°", "½", emoji and spacing vowel signs vanish from the ids.
/// </summary>
public static class BasicTokenizer
{
    /// <summary>
    /// The rules' version, recorded in each manifest. "bert-basic/2" keeps symbols ($, £, °…) as tokens; shards from
    /// before it (no version recorded) lost them, so pretraining on them says so.
    /// </summary>
    public const string Version = "bert-basic/2";

    /// <summary>The words of <paramref name="text"/>, in order.</summary>
    public static List<string> Split(string text)
    {
        var words = new List<string>();
        var word = new StringBuilder();
        // Folding before lowercasing: .NET keeps "İ" as it is when lowercasing, and its decomposition is "I" + a mark.
        foreach (var folded in AccentFolding.Strip(Clean(text)).EnumerateRunes())
        {
            var rune = Rune.ToLowerInvariant(folded);
            if (Rune.IsWhiteSpace(rune))
            {
                Flush(word, words);
            }
            else if (IsPunctuationOrSymbol(rune) || IsCjkIdeograph(rune.Value))
            {
                Flush(word, words);
                words.Add(rune.ToString());
            }
            else
            {
                word.Append(rune.ToString());
            }
        }
        Flush(word, words);
        return words;
    }

    /// <summary>
    /// Drops what BERT's _clean_text drops (NUL, U+FFFD — which also stands in for invalid UTF-8 and lone surrogates
    /// — and Cc/Cf characters such as soft hyphens and zero-width spaces), and keeps tab and line ends as whitespace.
    /// </summary>
    private static string Clean(string text)
    {
        var sb = new StringBuilder(text.Length);
        for (int i = 0; i < text.Length;)
        {
            if (Rune.DecodeFromUtf16(text.AsSpan(i), out var rune, out int used) != System.Buffers.OperationStatus.Done)
                rune = Rune.ReplacementChar;
            i += used;
            if (rune.Value is 0 or 0xFFFD) continue;
            if (rune.Value is '\t' or '\n' or '\r')
            {
                sb.Append(' ');
                continue;
            }
            var category = Rune.GetUnicodeCategory(rune);
            if (category is UnicodeCategory.Control or UnicodeCategory.Format) continue;
            sb.Append(rune.ToString());
        }
        return sb.ToString();
    }

    private static void Flush(StringBuilder word, List<string> words)
    {
        if (word.Length == 0) return;
        words.Add(word.ToString());
        word.Clear();
    }

    /// <summary>BERT's _is_punctuation (ASCII 33–47, 58–64, 91–96, 123–126 and P*) widened to the symbols S*.</summary>
    public static bool IsPunctuationOrSymbol(Rune rune)
    {
        int c = rune.Value;
        if (c is (>= 33 and <= 47) or (>= 58 and <= 64) or (>= 91 and <= 96) or (>= 123 and <= 126)) return true;
        return Rune.GetUnicodeCategory(rune) switch
        {
            UnicodeCategory.ConnectorPunctuation or UnicodeCategory.DashPunctuation or UnicodeCategory.OpenPunctuation
                or UnicodeCategory.ClosePunctuation or UnicodeCategory.InitialQuotePunctuation
                or UnicodeCategory.FinalQuotePunctuation or UnicodeCategory.OtherPunctuation => true,
            UnicodeCategory.MathSymbol or UnicodeCategory.CurrencySymbol or UnicodeCategory.ModifierSymbol
                or UnicodeCategory.OtherSymbol => true,
            _ => false,
        };
    }

    /// <summary>The CJK ideograph blocks BERT's _is_chinese_char lists; each ideograph is a word of its own.</summary>
    public static bool IsCjkIdeograph(int c) =>
        c is (>= 0x4E00 and <= 0x9FFF) or (>= 0x3400 and <= 0x4DBF) or (>= 0x20000 and <= 0x2A6DF)
            or (>= 0x2A700 and <= 0x2B73F) or (>= 0x2B740 and <= 0x2B81F) or (>= 0x2B820 and <= 0x2CEAF)
            or (>= 0xF900 and <= 0xFAFF) or (>= 0x2F800 and <= 0x2FA1F);
}
