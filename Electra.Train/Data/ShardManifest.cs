using System.Text.Json;
using System.Text.Json.Serialization;

namespace Electra.Train.Data;

/// <summary><c>manifest.json</c> of a prepared data directory: what the shards hold and how they were made.</summary>
public sealed record ShardManifest
{
    public const string FileName = "manifest.json";

    public string Format { get; init; } = ShardFormat.Magic;
    public int Version { get; init; } = (int)ShardFormat.Version;
    public int SeqLen { get; init; }
    public int VocabSize { get; init; }
    public string VocabHash { get; init; } = "";

    /// <summary>The basic tokenizer's rules (<see cref="BasicTokenizer.Version"/>); null in manifests written before it was recorded.</summary>
    public string? Tokenizer { get; init; }
    public int PadId { get; init; }
    public ulong Seed { get; init; }
    public long Examples { get; init; }
    public long Tokens { get; init; }
    public List<ShardEntry> Shards { get; init; } = [];
    public CorpusStats? Corpus { get; init; }

    public sealed record ShardEntry(string File, long Examples, long Bytes);

    private static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public string ToJson() => JsonSerializer.Serialize(this, Options);

    public static ShardManifest Load(string dir)
    {
        string path = Path.Combine(dir, FileName);
        if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"data directory not found: {dir}");
        if (!File.Exists(path))
            throw new FileNotFoundException($"{dir}: no {FileName} (is this a directory written by `electra prepare-data`?)", path);
        ShardManifest? manifest;
        try
        {
            manifest = JsonSerializer.Deserialize<ShardManifest>(File.ReadAllText(path), Options);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not a valid manifest: {e.Message}");
        }
        if (manifest is null || manifest.Format != ShardFormat.Magic)
            throw new InvalidDataException($"{path}: format \"{manifest?.Format}\", expected \"{ShardFormat.Magic}\"");
        if (manifest.Version != ShardFormat.Version)
            throw new InvalidDataException($"{path}: format version {manifest.Version}, this build reads version {ShardFormat.Version}");
        if (manifest.Shards.Count == 0) throw new InvalidDataException($"{path}: lists no shards");
        return manifest;
    }

    /// <summary>Writes via a temporary file and a rename, so a reader never sees half a manifest.</summary>
    public void Save(string dir)
    {
        string path = Path.Combine(dir, FileName);
        string tmp = path + ".tmp";
        File.WriteAllText(tmp, ToJson());
        File.Move(tmp, path, overwrite: true);
    }
}
