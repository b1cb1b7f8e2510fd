using System.IO.MemoryMappedFiles;

namespace Electra.Train.Data;

/// <summary>
/// The examples of a prepared data directory, memory-mapped shard by shard, addressed by a global index
/// 0..Count−1 (shards in manifest order). Opening checks every header and file size against the manifest and every
/// stored length, so a truncated or mixed-up directory fails at once with the file named, not mid-training.
/// </summary>
public sealed unsafe class ShardDataset : IDisposable
{
    private readonly Shard[] _shards;
    private readonly long[] _starts; // global index of each shard's first example

    public string Directory { get; }
    public int SeqLen { get; }
    public int VocabSize { get; }
    public int PadId { get; }
    public string VocabHash { get; }

    /// <summary>The tokenizer rules the shards were made with (null: made before they were recorded).</summary>
    public string? Tokenizer { get; }
    public int Count { get; }
    public ShardManifest Manifest { get; }

    private ShardDataset(string dir, ShardManifest manifest, Shard[] shards)
    {
        Directory = dir;
        Manifest = manifest;
        _shards = shards;
        _starts = new long[shards.Length];
        long total = 0;
        for (int i = 0; i < shards.Length; i++)
        {
            _starts[i] = total;
            total += shards[i].Header.Count;
        }
        if (total > int.MaxValue) throw new InvalidDataException($"{dir}: {total} examples, more than this reader indexes");
        Count = (int)total;
        SeqLen = manifest.SeqLen;
        VocabSize = manifest.VocabSize;
        PadId = manifest.PadId;
        VocabHash = manifest.VocabHash;
        Tokenizer = manifest.Tokenizer;
    }

    public static ShardDataset Open(string dir, WordPieceTokenizer tokenizer) => Open(dir, tokenizer.VocabHash);

    /// <param name="expectedVocabHash">The tokenizer's vocab hash; null skips the check.</param>
    public static ShardDataset Open(string dir, string? expectedVocabHash = null)
    {
        var manifest = ShardManifest.Load(dir);
        string manifestPath = Path.Combine(dir, ShardManifest.FileName);
        if (expectedVocabHash is not null && !string.Equals(manifest.VocabHash, expectedVocabHash, StringComparison.OrdinalIgnoreCase))
            throw new InvalidDataException(
                $"{manifestPath}: the data was prepared with vocab hash {manifest.VocabHash}, but the tokenizer's vocab hash is {expectedVocabHash}: prepare the data again with this vocabulary, or pass the vocab it was built with");
        var shards = new List<Shard>();
        try
        {
            foreach (var entry in manifest.Shards)
            {
                string path = Path.Combine(dir, entry.File);
                var shard = Shard.Open(path);
                shards.Add(shard);
                var h = shard.Header;
                if (h.SeqLen != manifest.SeqLen || h.VocabSize != manifest.VocabSize || h.PadId != manifest.PadId)
                    throw new InvalidDataException($"{path}: header says T={h.SeqLen}, vocab size {h.VocabSize}, pad id {h.PadId}; {manifestPath} says T={manifest.SeqLen}, vocab size {manifest.VocabSize}, pad id {manifest.PadId}");
                if (h.VocabHash != manifest.VocabHash)
                    throw new InvalidDataException($"{path}: vocab hash {h.VocabHash} differs from {manifestPath}'s {manifest.VocabHash} (shards of different preparations mixed?)");
                if (h.Count != entry.Examples)
                    throw new InvalidDataException($"{path}: holds {h.Count} examples, {manifestPath} lists {entry.Examples}");
                if (expectedVocabHash is not null && !string.Equals(h.VocabHash, expectedVocabHash, StringComparison.OrdinalIgnoreCase))
                    throw new InvalidDataException($"{path}: vocab hash {h.VocabHash}, but the tokenizer's is {expectedVocabHash}");
            }
            return new ShardDataset(dir, manifest, [.. shards]);
        }
        catch
        {
            foreach (var shard in shards) shard.Dispose();
            throw;
        }
    }

    /// <summary>The unpadded ids of example <paramref name="index"/> and its segment-A length.</summary>
    public PackedExample GetExample(int index)
    {
        var (shard, local) = Locate(index);
        int length = shard.Length(local);
        var ids = new int[length];
        var row = shard.Row(local);
        for (int i = 0; i < length; i++) ids[i] = row[i];
        return new PackedExample(ids, shard.SegmentALength(local));
    }

    /// <summary>
    /// Writes example <paramref name="index"/> as one batch row: ids padded with the pad id, token types (0 through
    /// segment A, 1 for segment B, 0 on padding) and the attention mask (1 on real tokens). Returns its length.
    /// </summary>
    public int ReadRow(int index, Span<int> ids, Span<int> tokenTypes, Span<int> attentionMask)
    {
        var (shard, local) = Locate(index);
        int length = shard.Length(local);
        int segmentA = shard.SegmentALength(local);
        var row = shard.Row(local);
        for (int t = 0; t < SeqLen; t++)
        {
            int id = row[t];
            if (id >= VocabSize)
                throw new InvalidDataException($"{shard.Path}: example {local} position {t} holds id {id}, outside the vocabulary (size {VocabSize}); the shard is corrupt");
            bool real = t < length;
            ids[t] = real ? id : PadId;
            tokenTypes[t] = real && t >= segmentA ? 1 : 0;
            attentionMask[t] = real ? 1 : 0;
        }
        return length;
    }

    private (Shard Shard, int Local) Locate(int index)
    {
        if ((uint)index >= (uint)Count) throw new ArgumentOutOfRangeException(nameof(index), index, $"dataset holds {Count} examples");
        int s = Array.BinarySearch(_starts, (long)index);
        if (s < 0) s = ~s - 1;
        // Empty shards share a start with the next one: step to the shard that actually holds the index.
        while (_shards[s].Header.Count == 0 || index - _starts[s] >= _shards[s].Header.Count) s++;
        return (_shards[s], (int)(index - _starts[s]));
    }

    public void Dispose()
    {
        foreach (var shard in _shards) shard.Dispose();
    }

    private sealed class Shard : IDisposable
    {
        private readonly MemoryMappedFile _file;
        private readonly MemoryMappedViewAccessor _view;
        private readonly byte* _base;

        public string Path { get; }
        public ShardFormat.Header Header { get; }

        private Shard(string path, MemoryMappedFile file, MemoryMappedViewAccessor view, byte* basePointer, ShardFormat.Header header)
        {
            Path = path;
            _file = file;
            _view = view;
            _base = basePointer;
            Header = header;
        }

        public static Shard Open(string path)
        {
            if (!File.Exists(path)) throw new FileNotFoundException($"shard listed in the manifest is missing: {path}", path);
            long size = new FileInfo(path).Length;
            if (size < ShardFormat.HeaderBytes)
                throw new InvalidDataException($"{path}: truncated shard: {size} bytes, shorter than the {ShardFormat.HeaderBytes}-byte header");
            var file = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
            MemoryMappedViewAccessor? view = null;
            bool acquired = false;
            try
            {
                view = file.CreateViewAccessor(0, size, MemoryMappedFileAccess.Read);
                byte* p = null;
                view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
                acquired = true;
                p += view.PointerOffset;
                var header = ShardFormat.ReadHeader(new ReadOnlySpan<byte>(p, ShardFormat.HeaderBytes), path);
                if (size != header.FileBytes)
                    throw new InvalidDataException($"{path}: {(size < header.FileBytes ? "truncated" : "corrupt")} shard: {size} bytes, but a header of {header.Count} examples × T={header.SeqLen} needs {header.FileBytes}");
                var shard = new Shard(path, file, view, p, header);
                shard.CheckLengths();
                return shard;
            }
            catch
            {
                if (acquired) view!.SafeMemoryMappedViewHandle.ReleasePointer();
                view?.Dispose();
                file.Dispose();
                throw;
            }
        }

        private void CheckLengths()
        {
            for (int i = 0; i < Header.Count; i++)
            {
                int length = Length(i), segmentA = SegmentALength(i);
                if (length < 2 || length > Header.SeqLen || segmentA < 2 || segmentA > length)
                    throw new InvalidDataException($"{Path}: example {i} has length {length} and segment-A length {segmentA}; expected 2 ≤ segment A ≤ length ≤ T={Header.SeqLen}: the shard is corrupt");
            }
        }

        public ReadOnlySpan<ushort> Row(int local) =>
            new(_base + Header.IdsOffset + (long)local * Header.SeqLen * 2, Header.SeqLen);

        public int Length(int local) => ((ushort*)(_base + Header.LengthsOffset))[local];

        public int SegmentALength(int local) => ((ushort*)(_base + Header.SegmentALengthsOffset))[local];

        public void Dispose()
        {
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
            _view.Dispose();
            _file.Dispose();
        }
    }
}
