using Microsoft.ML.Tokenizers;

namespace Electra.Train.Data;

/// <summary>
/// Uncased BERT WordPiece over a validated <see cref="Vocabulary"/>: Microsoft.ML.Tokenizers' BertTokenizer does the
/// basic tokenization (lowercasing, accent stripping, punctuation splitting) and greedy longest-match WordPiece.
/// </summary>
public sealed class WordPieceTokenizer
{
    /// <summary>The vocabulary shipped with the CLI (bert-base-uncased, see NOTICE), next to the executable.</summary>
    public static string DefaultVocabPath => System.IO.Path.Combine(AppContext.BaseDirectory, "Resources", "vocab.txt");

    private readonly BertTokenizer _bert;

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
        using var stream = new MemoryStream(vocabulary.Bytes, writable: false);
        _bert = BertTokenizer.Create(stream, new BertOptions
        {
            LowerCaseBeforeTokenization = true,
            // bert-base-uncased strips accents; StripAccents does it first, this only matters where ICU is on.
            RemoveNonSpacingMarks = true,
            // Corpus text that happens to contain "[SEP]" or "[MASK]" must not inject special ids into an example.
            SplitOnSpecialTokens = false,
        });
        PadId = vocabulary.IdOf("[PAD]");
        UnkId = vocabulary.IdOf("[UNK]");
        ClsId = vocabulary.IdOf("[CLS]");
        SepId = vocabulary.IdOf("[SEP]");
        MaskId = vocabulary.IdOf("[MASK]");
    }

    public static WordPieceTokenizer Load(string? vocabPath = null) => new(Vocabulary.Load(vocabPath ?? DefaultVocabPath));

    /// <summary>WordPiece ids of <paramref name="text"/> without [CLS]/[SEP].</summary>
    public IReadOnlyList<int> Encode(string text) => _bert.EncodeToIds(StripAccents(text), addSpecialTokens: false);

    /// <summary><c>[CLS] text [SEP]</c>, as a classifier sees a single sentence.</summary>
    public IReadOnlyList<int> EncodeWithSpecialTokens(string text) => _bert.EncodeToIds(StripAccents(text), addSpecialTokens: true);

    /// <summary>
    /// What BERT's uncased basic tokenizer does to accents ("Café" → "Cafe"). BertTokenizer's own
    /// RemoveNonSpacingMarks relies on string.Normalize, a no-op under the project's InvariantGlobalization.
    /// </summary>
    public static string StripAccents(string text) => AccentFolding.Strip(text);

    public string Decode(IEnumerable<int> ids) => _bert.Decode(ids) ?? "";

    public string TokenOf(int id) => Vocabulary.Tokens[id];
}
