using System.Globalization;
using System.Text;

namespace Electra.Train.Data;

/// <summary>
/// BERT's uncased accent stripping (NFD, then drop combining marks) without ICU: the project runs with
/// InvariantGlobalization, where <see cref="string.Normalize()"/> leaves non-ASCII text unchanged, so the
/// decompositions come from a generated table (AccentTable.g.cs, scripts/gen-accent-table.py).
/// </summary>
internal static partial class AccentFolding
{
    // Lazy: static initializers of a partial class run in file order, and Table lives in the other file.
    private static readonly Lazy<Dictionary<char, string>> Map = new(() => Table.ToDictionary(p => p.From, p => p.To));

    public static string Strip(string text)
    {
        if (Ascii.IsValid(text)) return text;
        var sb = new StringBuilder(text.Length);
        foreach (char c in text)
        {
            if (c < 0x80) sb.Append(c);
            else if (Map.Value.TryGetValue(c, out var folded)) sb.Append(folded);
            else if (CharUnicodeInfo.GetUnicodeCategory(c) != UnicodeCategory.NonSpacingMark) sb.Append(c);
        }
        return sb.ToString();
    }
}
