namespace Electra.Train.Data;

/// <summary>
/// A deliberately simple sentence splitter: a sentence ends at '.', '!' or '?' (plus any closing quotes or
/// brackets) followed by whitespace or the end of the line. Abbreviations ("Mr. Smith") split too; the packer only
/// needs plausible boundaries to cut segments at, not linguistically exact ones.
/// </summary>
public static class SentenceSplitter
{
    public static List<string> Split(string line)
    {
        var sentences = new List<string>();
        int start = 0;
        for (int i = 0; i < line.Length; i++)
        {
            if (line[i] is not ('.' or '!' or '?')) continue;
            int end = i + 1;
            while (end < line.Length && IsTrailing(line[end])) end++;
            if (end < line.Length && !char.IsWhiteSpace(line[end]))
            {
                i = end - 1;
                continue;
            }
            Add(sentences, line, start, end);
            start = end;
            i = end - 1;
        }
        Add(sentences, line, start, line.Length);
        return sentences;
    }

    private static bool IsTrailing(char c) =>
        c is '.' or '!' or '?' or '"' or '\'' or ')' or ']' or '}' or '\u2019' or '\u201D' or '\u00BB';

    private static void Add(List<string> sentences, string line, int start, int end)
    {
        var span = line.AsSpan(start, end - start).Trim();
        if (!span.IsEmpty) sentences.Add(span.ToString());
    }
}
