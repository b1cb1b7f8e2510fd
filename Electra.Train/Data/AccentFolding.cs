using System.Globalization;
using System.Text;

namespace Electra.Train.Data;

/// <summary>
/// BERT's uncased accent stripping (NFD, then drop combining marks) without ICU: the project runs with
/// InvariantGlobalization, where <see cref="string.Normalize()"/> leaves non-ASCII text unchanged, so the
/// decompositions come from a generated table (AccentTable.g.cs, scripts/gen-accent-table.py). Hangul syllables
/// decompose by the Unicode formula instead of the table: NFD turns them into conjoining jamo (letters, not marks),
/// which is what bert-base-uncased's vocabulary holds ("ᄒ", "##ᅡ", "##ᆫ"), so Korean is not [UNK].
/// </summary>
internal static partial class AccentFolding
{
    // Lazy: static initializers of a partial class run in file order, and Table lives in the other file.
    private static readonly Lazy<Dictionary<char, string>> Map = new(() => Table.ToDictionary(p => p.From, p => p.To));

    private const int HangulFirst = 0xAC00, HangulCount = 11172, JamoVowels = 21, JamoTails = 28;

    public static string Strip(string text)
    {
        if (Ascii.IsValid(text)) return text;
        var sb = new StringBuilder(text.Length);
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (c < 0x80) sb.Append(c);
            else if (Map.Value.TryGetValue(c, out var folded)) sb.Append(folded);
            else if ((uint)(c - HangulFirst) < HangulCount) AppendJamo(c - HangulFirst, sb);
            else if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                if (CharUnicodeInfo.GetUnicodeCategory(char.ConvertToUtf32(c, text[i + 1])) != UnicodeCategory.NonSpacingMark)
                    sb.Append(c).Append(text[i + 1]);
                i++;
            }
            else if (CharUnicodeInfo.GetUnicodeCategory(c) != UnicodeCategory.NonSpacingMark) sb.Append(c);
        }
        return sb.ToString();
    }

    private static void AppendJamo(int syllable, StringBuilder sb)
    {
        sb.Append((char)(0x1100 + syllable / (JamoVowels * JamoTails)));
        sb.Append((char)(0x1161 + syllable % (JamoVowels * JamoTails) / JamoTails));
        int tail = syllable % JamoTails;
        if (tail > 0) sb.Append((char)(0x11A7 + tail));
    }
}
