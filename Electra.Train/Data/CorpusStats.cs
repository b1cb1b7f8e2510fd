namespace Electra.Train.Data;

/// <summary>What preparing a corpus met on the way; the non-zero oddities become the warning summary.</summary>
public sealed class CorpusStats
{
    public int Files { get; set; }
    public long Bytes { get; set; }
    public long Documents { get; set; }
    public long Sentences { get; set; }
    public long Examples { get; set; }
    public long SingleSegmentExamples { get; set; }
    /// <summary>Tokens written to the shards ([CLS] and [SEP] included; sentences cut to fit T lose the rest).</summary>
    public long Tokens { get; set; }
    /// <summary>WordPiece tokens the tokenizer made of the text, before packing: the population of <see cref="UnknownTokens"/>.</summary>
    public long TextTokens { get; set; }
    /// <summary>[UNK] among <see cref="TextTokens"/>.</summary>
    public long UnknownTokens { get; set; }

    /// <summary>The share of the text's tokens that are [UNK], in [0, 1].</summary>
    public double UnknownShare => TextTokens == 0 ? 0 : (double)UnknownTokens / TextTokens;
    public int EmptyFiles { get; set; }
    public int FilesWithInvalidUtf8 { get; set; }
    public long InvalidUtf8Sequences { get; set; }
    public long HugeLines { get; set; }
    public int UnreadableFiles { get; set; }
    /// <summary>The first few problem files with what was wrong, for the summary.</summary>
    public List<string> Notes { get; set; } = [];

    public const int MaxNotes = 20;

    public void Note(string message)
    {
        if (Notes.Count < MaxNotes) Notes.Add(message);
    }

    public IEnumerable<string> Warnings()
    {
        if (EmptyFiles > 0) yield return $"{EmptyFiles} empty file(s) skipped";
        if (InvalidUtf8Sequences > 0)
            yield return $"{InvalidUtf8Sequences} invalid UTF-8 sequence(s) in {FilesWithInvalidUtf8} file(s) replaced by U+FFFD";
        if (HugeLines > 0)
            yield return $"{HugeLines} line(s) longer than {Utf8LineReader.MaxLineChars} characters split into pieces";
        if (UnreadableFiles > 0) yield return $"{UnreadableFiles} unreadable file(s) skipped";
    }
}
