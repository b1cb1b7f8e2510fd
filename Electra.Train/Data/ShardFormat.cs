using System.Buffers.Binary;
using System.Text;

namespace Electra.Train.Data;

/// <summary>
/// The binary shard layout (little-endian). A fixed 64-byte header, then three arrays:
/// <code>
///  0  magic "ELECTRA1"          8 bytes
///  8  version                   uint32 (1)
/// 12  T (sequence length)       uint32
/// 16  vocab size                uint32
/// 20  pad id                    uint32
/// 24  vocab hash                8 bytes (first 8 bytes of SHA-256 of vocab.txt)
/// 32  example count N           uint64
/// 40  reserved (zero)           24 bytes
/// 64  ids                       uint16 [N, T], padded with the pad id
///     lengths                   uint16 [N]   real tokens per example
///     segment-A lengths         uint16 [N]   tokens of type 0 ([CLS] A [SEP])
/// </code>
/// Fixed-width rows keep the reader a memory map with index arithmetic, and the lengths let a batch rebuild the
/// attention mask and token types without scanning for [SEP].
/// </summary>
public static class ShardFormat
{
    public const string Magic = "ELECTRA1";
    public const uint Version = 1;
    public const int HeaderBytes = 64;
    public const int MaxSeqLen = ushort.MaxValue;

    public readonly record struct Header(int SeqLen, int VocabSize, int PadId, string VocabHash, long Count)
    {
        public long IdsOffset => HeaderBytes;
        public long LengthsOffset => HeaderBytes + Count * SeqLen * 2;
        public long SegmentALengthsOffset => LengthsOffset + Count * 2;
        public long FileBytes => SegmentALengthsOffset + Count * 2;
    }

    public static void WriteHeader(Span<byte> destination, Header header)
    {
        destination[..HeaderBytes].Clear();
        Encoding.ASCII.GetBytes(Magic, destination);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[8..], Version);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[12..], (uint)header.SeqLen);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[16..], (uint)header.VocabSize);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[20..], (uint)header.PadId);
        Convert.FromHexString(header.VocabHash).CopyTo(destination[24..]);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[32..], (ulong)header.Count);
    }

    /// <summary>Parses and sanity-checks a header; errors name <paramref name="path"/>.</summary>
    public static Header ReadHeader(ReadOnlySpan<byte> source, string path)
    {
        if (source.Length < HeaderBytes)
            throw new InvalidDataException($"{path}: truncated shard: {source.Length} bytes, shorter than the {HeaderBytes}-byte header");
        var magic = source[..8];
        if (!magic.SequenceEqual(Encoding.ASCII.GetBytes(Magic)))
            throw new InvalidDataException($"{path}: not an Electra shard (magic \"{Printable(magic)}\", expected \"{Magic}\")");
        uint version = BinaryPrimitives.ReadUInt32LittleEndian(source[8..]);
        if (version != Version)
            throw new InvalidDataException($"{path}: shard format version {version}, this build reads version {Version}");
        uint seqLen = BinaryPrimitives.ReadUInt32LittleEndian(source[12..]);
        uint vocabSize = BinaryPrimitives.ReadUInt32LittleEndian(source[16..]);
        uint padId = BinaryPrimitives.ReadUInt32LittleEndian(source[20..]);
        string hash = Convert.ToHexStringLower(source.Slice(24, 8));
        ulong count = BinaryPrimitives.ReadUInt64LittleEndian(source[32..]);
        if (seqLen < 2 || seqLen > MaxSeqLen)
            throw new InvalidDataException($"{path}: corrupt header: sequence length {seqLen}, expected 2..{MaxSeqLen}");
        if (vocabSize < 1 || vocabSize > Vocabulary.MaxTokens)
            throw new InvalidDataException($"{path}: corrupt header: vocab size {vocabSize}, expected 1..{Vocabulary.MaxTokens}");
        if (padId >= vocabSize)
            throw new InvalidDataException($"{path}: corrupt header: pad id {padId} is not below the vocab size {vocabSize}");
        if (count > int.MaxValue)
            throw new InvalidDataException($"{path}: corrupt header: example count {count}");
        return new Header((int)seqLen, (int)vocabSize, (int)padId, hash, (long)count);
    }

    private static string Printable(ReadOnlySpan<byte> bytes)
    {
        var sb = new StringBuilder();
        foreach (byte b in bytes) sb.Append(b is >= 0x20 and < 0x7F ? (char)b : '?');
        return sb.ToString();
    }
}
