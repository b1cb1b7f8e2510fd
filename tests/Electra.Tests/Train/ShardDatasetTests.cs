using System.Buffers.Binary;
using System.Text.Json.Nodes;
using Electra.Train.Data;

namespace Electra.Tests.Train;

public class ShardDatasetTests
{
    private const string Hash = "0123456789abcdef";
    private const int T = 16, V = 500, Pad = 0;
    private string _dir = "";

    [SetUp]
    public void SetUp() => _dir = Directory.CreateTempSubdirectory("electra-shards-").FullName;

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    /// <summary>Random well-formed examples (ids 5..V−1 between [CLS]=2 and [SEP]=3), written in shards of 7.</summary>
    private List<PackedExample> WriteExamples(int count, int shardSize = 7, int seed = 1)
    {
        var random = new Random(seed);
        var examples = new List<PackedExample>();
        var writer = new ShardWriter(_dir, T, V, Hash, Pad, shardSize);
        for (int i = 0; i < count; i++)
        {
            int length = random.Next(3, T + 1);
            bool single = length < 5 || random.Next(4) == 0;
            int segmentA = single ? length : random.Next(3, length - 1);
            var ids = Enumerable.Range(0, length).Select(_ => random.Next(5, V)).ToArray();
            ids[0] = 2;
            ids[segmentA - 1] = 3;
            ids[^1] = 3;
            var example = new PackedExample(ids, segmentA);
            writer.Add(example);
            examples.Add(example);
        }
        writer.Finish(seed: 1, stats: null);
        return examples;
    }

    private string Shard(int i) => Path.Combine(_dir, $"shard-{i:D5}.bin");

    [Test]
    public void RoundTripKeepsEveryExampleAcrossShards()
    {
        var written = WriteExamples(47);
        Assert.That(Directory.GetFiles(_dir, "shard-*.bin").Length, Is.EqualTo(7), "6 full shards of 7 and one of 5");
        Assert.That(Directory.GetFiles(_dir, "*.tmp"), Is.Empty);
        using var data = ShardDataset.Open(_dir, Hash);
        Assert.That((data.Count, data.SeqLen, data.VocabSize, data.PadId, data.VocabHash), Is.EqualTo((47, T, V, Pad, Hash)));
        for (int i = 0; i < written.Count; i++)
        {
            var read = data.GetExample(i);
            Assert.That(read.Ids, Is.EqualTo(written[i].Ids), $"example {i}");
            Assert.That(read.SegmentALength, Is.EqualTo(written[i].SegmentALength), $"example {i}");
        }
    }

    [Test]
    public void RowsArePaddedWithTokenTypesAndMaskRebuiltFromLengths()
    {
        var written = WriteExamples(20);
        using var data = ShardDataset.Open(_dir);
        int[] ids = new int[T], types = new int[T], mask = new int[T];
        for (int i = 0; i < written.Count; i++)
        {
            Array.Fill(ids, -1); Array.Fill(types, -1); Array.Fill(mask, -1);
            var e = written[i];
            Assert.That(data.ReadRow(i, ids, types, mask), Is.EqualTo(e.Length));
            var expectedIds = e.Ids.Concat(Enumerable.Repeat(Pad, T - e.Length));
            var expectedTypes = Enumerable.Range(0, T).Select(t => t >= e.SegmentALength && t < e.Length ? 1 : 0);
            var expectedMask = Enumerable.Range(0, T).Select(t => t < e.Length ? 1 : 0);
            Assert.That(ids, Is.EqualTo(expectedIds));
            Assert.That(types, Is.EqualTo(expectedTypes));
            Assert.That(mask, Is.EqualTo(expectedMask));
        }
    }

    [Test]
    public void ShardHeaderIsTheDocumentedLayout()
    {
        WriteExamples(5);
        var bytes = File.ReadAllBytes(Shard(0));
        Assert.That(System.Text.Encoding.ASCII.GetString(bytes, 0, 8), Is.EqualTo("ELECTRA1"));
        Assert.That(BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(8)), Is.EqualTo(1u));
        Assert.That(BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(12)), Is.EqualTo((uint)T));
        Assert.That(BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(16)), Is.EqualTo((uint)V));
        Assert.That(Convert.ToHexStringLower(bytes.AsSpan(24, 8)), Is.EqualTo(Hash));
        Assert.That(BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(32)), Is.EqualTo(5ul));
        Assert.That(bytes.Length, Is.EqualTo(64 + 5 * T * 2 + 5 * 2 * 2));
        Assert.That(BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(64)), Is.EqualTo(2), "first id is [CLS]");
    }

    [Test]
    public void VocabHashMismatchNamesBothHashesAndTheFile()
    {
        WriteExamples(5);
        var ex = Assert.Throws<InvalidDataException>(() => ShardDataset.Open(_dir, "fedcba9876543210"));
        Assert.That(ex!.Message, Does.Contain(Hash).And.Contain("fedcba9876543210").And.Contain(Path.Combine(_dir, "manifest.json")));
    }

    private void Patch(string path, int offset, params byte[] bytes)
    {
        var all = File.ReadAllBytes(path);
        bytes.CopyTo(all, offset);
        File.WriteAllBytes(path, all);
    }

    private string OpenError()
    {
        var ex = Assert.Catch(() => ShardDataset.Open(_dir, Hash).Dispose());
        return ex!.Message;
    }

    [Test]
    public void BadMagicIsReported()
    {
        WriteExamples(10);
        Patch(Shard(1), 0, "NOTASHRD"u8.ToArray());
        Assert.That(OpenError(), Does.StartWith(Shard(1)).And.Contain("magic \"NOTASHRD\", expected \"ELECTRA1\""));
    }

    [Test]
    public void UnknownVersionIsReported()
    {
        WriteExamples(10);
        Patch(Shard(0), 8, 2, 0, 0, 0);
        Assert.That(OpenError(), Does.StartWith(Shard(0)).And.Contain("version 2"));
    }

    [Test]
    public void TruncatedShardIsReported()
    {
        WriteExamples(10);
        var bytes = File.ReadAllBytes(Shard(0));
        File.WriteAllBytes(Shard(0), bytes[..(bytes.Length - 9)]);
        Assert.That(OpenError(), Does.StartWith(Shard(0)).And.Contain("truncated").And.Contain($"{bytes.Length - 9} bytes").And.Contain($"needs {bytes.Length}"));
        File.WriteAllBytes(Shard(0), bytes[..30]);
        Assert.That(OpenError(), Does.StartWith(Shard(0)).And.Contain("shorter than the 64-byte header"));
        File.WriteAllBytes(Shard(0), []);
        Assert.That(OpenError(), Does.StartWith(Shard(0)).And.Contain("truncated"));
    }

    [Test]
    public void HeaderThatDisagreesWithTheManifestIsReported()
    {
        WriteExamples(10);
        // Another T with the same file size cannot be told from the bytes; the manifest catches it.
        Patch(Shard(1), 12, 8, 0, 0, 0);
        Assert.That(OpenError(), Does.StartWith(Shard(1)));
        WriteExamples(10);
        Patch(Shard(0), 24, 0xAA);
        Assert.That(OpenError(), Does.StartWith(Shard(0)).And.Contain("vocab hash aa23456789abcdef"));
    }

    [Test]
    public void CorruptLengthsAndIdsAreReported()
    {
        WriteExamples(7);
        long lengthsOffset = 64 + 7 * T * 2;
        Patch(Shard(0), (int)lengthsOffset + 2 * 3, (byte)(T + 1), 0);
        Assert.That(OpenError(), Does.StartWith(Shard(0)).And.Contain($"example 3 has length {T + 1}"));

        WriteExamples(7);
        Patch(Shard(0), 64 + (2 * T + 1) * 2, 0xFF, 0xFF);
        using var data = ShardDataset.Open(_dir, Hash);
        int[] row = new int[T];
        var ex = Assert.Throws<InvalidDataException>(() => data.ReadRow(2, row, new int[T], new int[T]));
        Assert.That(ex!.Message, Does.StartWith(Shard(0)).And.Contain("example 2 position 1 holds id 65535"));
    }

    [Test]
    public void MissingManifestOrShardIsReported()
    {
        WriteExamples(10);
        File.Delete(Shard(1));
        Assert.That(OpenError(), Does.Contain("missing").And.Contain(Shard(1)));
        File.Delete(Path.Combine(_dir, "manifest.json"));
        Assert.That(OpenError(), Does.Contain(_dir).And.Contain("no manifest.json"));
        var manifest = JsonNode.Parse("{\"format\":\"OTHER\",\"shards\":[]}")!.ToJsonString();
        File.WriteAllText(Path.Combine(_dir, "manifest.json"), manifest);
        Assert.That(OpenError(), Does.Contain("format \"OTHER\""));
    }

    [Test]
    public void ShuffleIsAPureFunctionOfSeedAndEpoch()
    {
        WriteExamples(50);
        using var data = ShardDataset.Open(_dir);
        var first = new BatchSampler(data, 8, seed: 123);
        var second = new BatchSampler(data, 8, seed: 123);
        var other = new BatchSampler(data, 8, seed: 124);
        Assert.That(first.BatchesPerEpoch, Is.EqualTo(6));
        var epochs = new List<int[]>();
        for (int epoch = 0; epoch < 3; epoch++)
        {
            var seen = new List<int>();
            for (int b = 0; b < 6; b++)
            {
                var x = first.Next();
                var y = second.Next();
                Assert.That(x.Cursor, Is.EqualTo(new BatchCursor(epoch, b * 8)));
                Assert.That(y.ExampleIndices, Is.EqualTo(x.ExampleIndices));
                Assert.That(y.InputIds, Is.EqualTo(x.InputIds));
                seen.AddRange(x.ExampleIndices);
            }
            Assert.That(seen.Distinct().Count(), Is.EqualTo(48), "no example twice within an epoch");
            Assert.That(seen, Is.EqualTo(first.EpochOrder(epoch)[..48]));
            epochs.Add([.. seen]);
        }
        Assert.That(epochs[1], Is.Not.EqualTo(epochs[0]));
        Assert.That(epochs[2], Is.Not.EqualTo(epochs[1]));
        Assert.That(other.EpochOrder(0), Is.Not.EqualTo(first.EpochOrder(0)));
        Assert.That(first.EpochOrder(0).Order(), Is.EqualTo(Enumerable.Range(0, 50)));
        Assert.That(first.EpochOrder(0), Is.Not.EqualTo(Enumerable.Range(0, 50)));
    }

    [TestCase(0)]
    [TestCase(4)]
    [TestCase(5)]
    [TestCase(13)]
    public void ResumingFromACursorRepeatsTheExactBatches(int batchesBefore)
    {
        WriteExamples(41);
        using var data = ShardDataset.Open(_dir);
        var straight = new BatchSampler(data, 8, seed: 7); // 5 batches per epoch: resume points cross epochs
        for (int i = 0; i < batchesBefore; i++) straight.Next();
        var cursor = straight.Cursor;
        var resumed = new BatchSampler(data, 8, seed: 7, cursor);
        for (int i = 0; i < 12; i++)
        {
            var x = straight.Next();
            var y = resumed.Next();
            Assert.That(y.Cursor, Is.EqualTo(x.Cursor));
            Assert.That(y.ExampleIndices, Is.EqualTo(x.ExampleIndices));
            Assert.That(y.InputIds, Is.EqualTo(x.InputIds));
            Assert.That(y.TokenTypeIds, Is.EqualTo(x.TokenTypeIds));
            Assert.That(y.AttentionMask, Is.EqualTo(x.AttentionMask));
        }
        Assert.That(resumed.Cursor, Is.EqualTo(straight.Cursor));
    }

    [Test]
    public void BatchRowsMatchTheDatasetRows()
    {
        var written = WriteExamples(30);
        using var data = ShardDataset.Open(_dir);
        var sampler = new BatchSampler(data, 4, seed: 2);
        var batch = sampler.Next();
        Assert.That(batch.InputIds.Length, Is.EqualTo(4 * T));
        for (int b = 0; b < 4; b++)
        {
            var e = written[batch.ExampleIndices[b]];
            Assert.That(batch.InputIds[(b * T)..(b * T + e.Length)], Is.EqualTo(e.Ids));
            Assert.That(batch.AttentionMask[(b * T)..((b + 1) * T)].Sum(), Is.EqualTo(e.Length));
            Assert.That(batch.TokenTypeIds[(b * T)..((b + 1) * T)].Sum(), Is.EqualTo(e.Length - e.SegmentALength));
            Assert.That(batch.Lengths[b], Is.EqualTo(e.Length));
        }
        Assert.That(batch.TokenCount, Is.EqualTo(batch.Lengths.Sum()));
        Assert.That(sampler.Next(batch), Is.SameAs(batch), "a batch of the right shape is refilled in place");
    }

    [Test]
    public void TooFewExamplesForABatchIsAClearError()
    {
        WriteExamples(3);
        using var data = ShardDataset.Open(_dir);
        var ex = Assert.Throws<ArgumentException>(() => new BatchSampler(data, 8, seed: 1));
        Assert.That(ex!.Message, Does.Contain("3 examples, fewer than one batch of 8"));
    }

    [Test]
    public void RewritingWithFewerShardsRemovesStaleOnes()
    {
        WriteExamples(30);
        Assert.That(Directory.GetFiles(_dir, "shard-*.bin").Length, Is.EqualTo(5));
        WriteExamples(10, shardSize: 7, seed: 2);
        Assert.That(Directory.GetFiles(_dir, "shard-*.bin").Length, Is.EqualTo(2));
        using var data = ShardDataset.Open(_dir);
        Assert.That(data.Count, Is.EqualTo(10));
    }
}
