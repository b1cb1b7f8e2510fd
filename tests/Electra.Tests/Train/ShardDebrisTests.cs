using Electra.Train.Data;

namespace Electra.Tests.Train;

/// <summary>A shard left half-written (<c>shard-*.bin.tmp</c>) by a killed or failed prepare-data is gone after the next one.</summary>
public class ShardDebrisTests
{
    [Test]
    public void AHalfWrittenShardIsRemovedByTheNextPrepareData()
    {
        var dir = TestData.TempDir();
        try
        {
            var shards = MicroRun.Shards(dir, "shards", WordPieceTokenizer.Load(), corpusSeed: 8);
            var debris = Path.Combine(shards, "shard-00007.bin.tmp");
            File.WriteAllBytes(debris, new byte[100]);
            var corpus = Path.Combine(dir, "shards.txt");
            var r = Cli.Run("prepare-data", "--input", corpus, "--out", shards, "--seq", "32");
            Assert.That(r.Code, Is.Zero, r.ToString());
            Assert.That(File.Exists(debris), Is.False);
            Assert.That(Directory.GetFiles(shards, "*.tmp"), Is.Empty);
            using var data = ShardDataset.Open(shards, WordPieceTokenizer.Load());
            Assert.That(data.Count, Is.GreaterThan(0));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
