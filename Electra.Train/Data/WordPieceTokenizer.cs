using System.Text;

namespace Electra.Train.Data;

/// <summary>
/// Uncased BERT WordPiece over a validated <see cref="Vocabulary"/>: <see cref="BasicTokenizer"/> splits the text into
/// words, then each word becomes its greedy longest-match pieces ("##" marks a piece inside a word), or one [UNK]
/// when some part of it is in no piece of the vocabulary or it is longer than <see cref="MaxCharsPerWord"/>.
/// Literal "[SEP]" or "[MASK]" in the text are text ("[", "sep", "]"): corpus text must not inject special ids.
/// </summary>
public sealed class WordPieceTokenizer
{
    /// <summary>The vocabulary shipped with the CLI (bert-base-uncased, see NOTICE), next to the executable.</summary>
    public static string DefaultVocabPath => System.IO.Path.Combine(AppContext.BaseDirectory, "Resources", "vocab.txt");

    /// <summary>BERT's max_input_chars_per_word, in code points.</summary>
    public const int MaxCharsPerWord = 100;

    private const string ContinuationPrefix = "##";

    public Vocabulary Vocabulary { get; }
    public int VocabSize => Vocabulary.Count;
    public string VocabHash => Vocabulary.Hash;
    public int PadId { get; }
    public int UnkId { get; }
    public int ClsId { get; }
    public int SepId { get; }
    public int MaskId { get; }

    public WordPieceTokenizer(Vocabulary vocabulary)
    {
        Vocabulary = vocabulary;
        PadId = vocabulary.IdOf("[PAD]");
        UnkId = vocabulary.IdOf("[UNK]");
        ClsId = vocabulary.IdOf("[CLS]");
        SepId = vocabulary.IdOf("[SEP]");
        MaskId = vocabulary.IdOf("[MASK]");
    }

    public static WordPieceTokenizer Load(string? vocabPath = null) => new(Vocabulary.Load(vocabPath ?? DefaultVocabPath));

    /// <summary>WordPiece ids of <paramref name="text"/> without [CLS]/[SEP].</summary>
    public IReadOnlyList<int> Encode(string text)
    {
        var ids = new List<int>();
        foreach (var word in BasicTokenizer.Split(text)) AppendPieces(word, ids);
        return ids;
    }

    /// <summary><c>[CLS] text [SEP]</c>, as a classifier sees a single sentence.</summary>
    public IReadOnlyList<int> EncodeWithSpecialTokens(string text)
    {
        var ids = new List<int> { ClsId };
        foreach (var word in BasicTokenizer.Split(text)) AppendPieces(word, ids);
        ids.Add(SepId);
        return ids;
    }

    private void AppendPieces(string word, List<int> ids)
    {
        int first = ids.Count;
        if (word.EnumerateRunes().Count() > MaxCharsPerWord)
        {
            ids.Add(UnkId);
            return;
        }
        // "##" + the rest of the word from the current start; candidates are its prefixes.
        Span<char> piece = word.Length <= 256 ? stackalloc char[word.Length + 2] : new char[word.Length + 2];
        ContinuationPrefix.CopyTo(piece);
        for (int start = 0; start < word.Length;)
        {
            word.AsSpan(start).CopyTo(piece[2..]);
            int end = word.Length, id = -1;
            while (end > start)
            {
                var candidate = start == 0 ? word.AsSpan(0, end) : piece[..(2 + end - start)];
                if (Vocabulary.TryGetId(candidate, out id)) break;
                end--;
                if (end > start && char.IsLowSurrogate(word[end]) && char.IsHighSurrogate(word[end - 1])) end--;
            }
            if (end == start)
            {
                ids.RemoveRange(first, ids.Count - first);
                ids.Add(UnkId);
                return;
            }
            ids.Add(id);
            start = end;
        }
    }

    /// <summary>
    /// What BERT's uncased basic tokenizer does to accents ("Café" → "Cafe") and Hangul (into jamo), without
    /// lowercasing or splitting.
    /// </summary>
    public static string StripAccents(string text) => AccentFolding.Strip(text);

    /// <summary>Tokens joined by spaces, with "##" pieces glued to the piece before them.</summary>
    public string Decode(IEnumerable<int> ids)
    {
        var sb = new StringBuilder();
        foreach (int id in ids)
        {
            string token = TokenOf(id);
            if (token.StartsWith(ContinuationPrefix, StringComparison.Ordinal) && token.Length > 2 && sb.Length > 0)
                sb.Append(token, 2, token.Length - 2);
            else
                sb.Append(sb.Length > 0 ? " " : "").Append(token);
        }
        return sb.ToString();
    }

    public string TokenOf(int id) => Vocabulary.Tokens[id];
}
