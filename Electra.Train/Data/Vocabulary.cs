using System.Security.Cryptography;
using System.Text;

namespace Electra.Train.Data;

/// <summary>
/// A WordPiece <c>vocab.txt</c> (one token per line, id = line number − 1), checked before any tokenizer sees it:
/// a tokenizer would accept broken files silently (a duplicate token just shadows an id), and a shard built with one
/// vocabulary is garbage under another, so every shard records <see cref="Hash"/>.
/// </summary>
public sealed class Vocabulary
{
    /// <summary>Shards store ids as uint16.</summary>
    public const int MaxTokens = 65535;

    public static readonly string[] RequiredSpecialTokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];

    public string Path { get; }
    public IReadOnlyList<string> Tokens { get; }
    /// <summary>The file's bytes, exactly as validated: the tokenizer is built from these, not from a second read.</summary>
    public byte[] Bytes { get; }
    /// <summary>First 8 bytes of SHA-256 of the file, as 16 lowercase hex digits.</summary>
    public string Hash { get; }

    private readonly Dictionary<string, int> _ids;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _spanIds;

    private Vocabulary(string path, byte[] bytes, List<string> tokens, Dictionary<string, int> ids)
    {
        Path = path;
        Bytes = bytes;
        Tokens = tokens;
        _ids = ids;
        _spanIds = ids.GetAlternateLookup<ReadOnlySpan<char>>();
        Hash = HashOf(bytes);
    }

    public int Count => Tokens.Count;

    public int IdOf(string token) =>
        _ids.TryGetValue(token, out int id) ? id : throw new KeyNotFoundException($"{Path}: no token \"{token}\"");

    public bool TryGetId(string token, out int id) => _ids.TryGetValue(token, out id);

    /// <summary>Looks a token up without allocating a string for it (WordPiece tries every prefix of a word).</summary>
    public bool TryGetId(ReadOnlySpan<char> token, out int id) => _spanIds.TryGetValue(token, out id);

    public static string HashOf(ReadOnlySpan<byte> bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes).AsSpan(0, 8));

    public static Vocabulary Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"vocabulary file not found: {path}", path);
        return Parse(path, File.ReadAllBytes(path));
    }

    /// <summary>Validates <paramref name="bytes"/> as the contents of <paramref name="path"/> (named in every error).</summary>
    public static Vocabulary Parse(string path, byte[] bytes)
    {
        string text;
        try
        {
            text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes);
        }
        catch (DecoderFallbackException e)
        {
            throw new InvalidDataException($"{path}: not valid UTF-8 ({e.Message})");
        }
        if (text.Length > 0 && text[0] == '\uFEFF') text = text[1..];
        if (text.Trim().Length == 0) throw new InvalidDataException($"{path}: empty vocabulary file (expected one token per line)");

        // A final line end is not an empty last token.
        if (text.EndsWith('\n')) text = text[..^1];
        var lines = text.Split('\n');
        var tokens = new List<string>(lines.Length);
        var ids = new Dictionary<string, int>(lines.Length, StringComparer.Ordinal);
        for (int i = 0; i < lines.Length; i++)
        {
            int lineNumber = i + 1;
            string token = lines[i].TrimEnd('\r');
            if (token.Trim().Length == 0)
                throw new InvalidDataException($"{path} line {lineNumber}: empty token (every line must hold one token)");
            if (token.Trim().Length != token.Length)
                throw new InvalidDataException($"{path} line {lineNumber}: token \"{token}\" has leading or trailing whitespace");
            if (ids.TryGetValue(token, out int first))
                throw new InvalidDataException($"{path} line {lineNumber}: duplicate token \"{token}\" (first at line {first + 1})");
            ids.Add(token, i);
            tokens.Add(token);
        }
        if (tokens.Count > MaxTokens)
            throw new InvalidDataException($"{path}: {tokens.Count} tokens, more than the {MaxTokens} that uint16 shard ids can hold");
        var missing = RequiredSpecialTokens.Where(t => !ids.ContainsKey(t)).ToList();
        if (missing.Count > 0)
            throw new InvalidDataException($"{path}: missing special token(s) {string.Join(", ", missing)} (a BERT vocabulary needs {string.Join(", ", RequiredSpecialTokens)})");
        return new Vocabulary(path, bytes, tokens, ids);
    }
}
