namespace Electra.Train.Data;

/// <summary>
/// What identifies a prepared data directory for a resumed run: a hash of its manifest, which lists every shard with
/// its example count and size, the vocabulary hash, the preparation seed and the corpus statistics. Data moved to
/// another folder keeps its fingerprint; data prepared again from other text, or with other settings, does not.
/// </summary>
public static class DataFingerprint
{
    public static string Of(string dir) => Vocabulary.HashOf(File.ReadAllBytes(Path.Combine(dir, ShardManifest.FileName)));
}
