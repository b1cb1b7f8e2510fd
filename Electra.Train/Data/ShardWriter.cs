using System.Runtime.InteropServices;

namespace Electra.Train.Data;

/// <summary>
/// Collects examples and writes them as <see cref="ShardFormat"/> shards of at most <c>shardSize</c> examples, each
/// to a temporary file renamed into place, then a manifest. Over an older preparation the folder mixes old and new
/// shards until <see cref="Finish"/>, so <see cref="DataPreparer"/> gives it a new folder and swaps that in.
/// </summary>
public sealed class ShardWriter
{
    public const int DefaultShardSize = 65536;
    public const string ShardPattern = "shard-*.bin";

    private readonly string _dir;
    private readonly int _seqLen, _vocabSize, _padId, _shardSize;
    private readonly string _vocabHash;
    private readonly ushort[] _ids;        // [shardSize, T]
    private readonly ushort[] _lengths;    // [shardSize]
    private readonly ushort[] _segmentA;   // [shardSize]
    private int _count;
    private readonly List<ShardManifest.ShardEntry> _written = [];

    public ShardWriter(string dir, int seqLen, int vocabSize, string vocabHash, int padId, int shardSize = DefaultShardSize)
    {
        if (seqLen < 2 || seqLen > ShardFormat.MaxSeqLen) throw new ArgumentOutOfRangeException(nameof(seqLen), seqLen, $"expected 2..{ShardFormat.MaxSeqLen}");
        if (shardSize < 1) throw new ArgumentOutOfRangeException(nameof(shardSize), shardSize, "expected at least 1 example per shard");
        if (vocabSize > Vocabulary.MaxTokens) throw new ArgumentOutOfRangeException(nameof(vocabSize), vocabSize, $"uint16 ids hold at most {Vocabulary.MaxTokens} tokens");
        Directory.CreateDirectory(dir);
        // Half-written shards of a run that was killed or ran out of disk: never listed by a manifest, only clutter.
        foreach (var stale in Directory.EnumerateFiles(dir, ShardPattern + ".tmp")) File.Delete(stale);
        _dir = dir;
        _seqLen = seqLen;
        _vocabSize = vocabSize;
        _vocabHash = vocabHash;
        _padId = padId;
        _shardSize = shardSize;
        _ids = new ushort[(long)shardSize * seqLen];
        _lengths = new ushort[shardSize];
        _segmentA = new ushort[shardSize];
    }

    public long Examples { get; private set; }
    public long Tokens { get; private set; }
    public IReadOnlyList<ShardManifest.ShardEntry> Shards => _written;

    public void Add(PackedExample example)
    {
        if (example.Length > _seqLen) throw new ArgumentException($"example of {example.Length} tokens exceeds T={_seqLen}");
        var row = _ids.AsSpan(_count * _seqLen, _seqLen);
        for (int i = 0; i < example.Length; i++)
        {
            int id = example.Ids[i];
            if ((uint)id >= (uint)_vocabSize) throw new ArgumentException($"token id {id} is outside the vocabulary (size {_vocabSize})");
            row[i] = (ushort)id;
        }
        row[example.Length..].Fill((ushort)_padId);
        _lengths[_count] = (ushort)example.Length;
        _segmentA[_count] = (ushort)example.SegmentALength;
        _count++;
        Examples++;
        Tokens += example.Length;
        if (_count == _shardSize) Flush();
    }

    /// <summary>Writes the last shard and the manifest, and removes shards a previous run left beyond this one's.</summary>
    public ShardManifest Finish(ulong seed, CorpusStats? stats)
    {
        if (_count > 0) Flush();
        var manifest = new ShardManifest
        {
            SeqLen = _seqLen,
            VocabSize = _vocabSize,
            VocabHash = _vocabHash,
            Tokenizer = BasicTokenizer.Version,
            PadId = _padId,
            Seed = seed,
            Examples = Examples,
            Tokens = Tokens,
            Shards = [.. _written],
            Corpus = stats,
        };
        manifest.Save(_dir);
        var keep = _written.Select(s => s.File).ToHashSet(StringComparer.Ordinal);
        foreach (var stale in Directory.EnumerateFiles(_dir, ShardPattern))
            if (!keep.Contains(Path.GetFileName(stale))) File.Delete(stale);
        return manifest;
    }

    private void Flush()
    {
        string name = $"shard-{_written.Count:D5}.bin";
        string path = Path.Combine(_dir, name);
        string tmp = path + ".tmp";
        var header = new ShardFormat.Header(_seqLen, _vocabSize, _padId, _vocabHash, _count);
        try
        {
            using (var stream = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
            {
                Span<byte> head = stackalloc byte[ShardFormat.HeaderBytes];
                ShardFormat.WriteHeader(head, header);
                stream.Write(head);
                if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("shards are little-endian");
                stream.Write(MemoryMarshal.AsBytes(_ids.AsSpan(0, _count * _seqLen)));
                stream.Write(MemoryMarshal.AsBytes(_lengths.AsSpan(0, _count)));
                stream.Write(MemoryMarshal.AsBytes(_segmentA.AsSpan(0, _count)));
                stream.Flush(flushToDisk: true);
            }
            File.Move(tmp, path, overwrite: true);
        }
        catch
        {
            try { File.Delete(tmp); } catch (IOException) { } catch (UnauthorizedAccessException) { } // the write's own error is the one to report
            throw;
        }
        _written.Add(new ShardManifest.ShardEntry(name, _count, header.FileBytes));
        _count = 0;
    }
}
