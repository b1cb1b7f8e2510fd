using Electra.Train.Glue;

namespace Electra.Tests.Train;

/// <summary>The held-out dev split for a task that has only a training file.</summary>
public class GlueDevSplitTests
{
    private string _dir = "";

    [SetUp]
    public void CreateDir() => _dir = TestData.TempDir();

    [TearDown]
    public void DeleteDir() => Directory.Delete(_dir, recursive: true);

    [Test]
    public void Fnv1a64MatchesThePublishedTestVectors()
    {
        Assert.That(GlueDevSplit.Fnv1a64(""), Is.EqualTo(0xcbf29ce484222325UL));
        Assert.That(GlueDevSplit.Fnv1a64("a"), Is.EqualTo(0xaf63dc4c8601ec8cUL));
        Assert.That(GlueDevSplit.Fnv1a64("foobar"), Is.EqualTo(0x85944171f73967e8UL));
    }

    [TestCase(101, 0.1, 10)]
    [TestCase(8551, 0.1, 855)]
    [TestCase(7, 0.5, 4)]
    public void TheSplitTakesTheSmallestHashesAndKeepsTheOrder(int n, double fraction, int devCount)
    {
        var rows = Enumerable.Range(0, n).Select(i => $"sentence number {i}\t{i % 2}").ToList();
        var (train, dev) = GlueDevSplit.Split(rows, fraction);
        Assert.That(dev, Has.Count.EqualTo(devCount));
        Assert.That(train.Concat(dev), Is.EquivalentTo(rows));
        var expectedDev = rows.OrderBy(GlueDevSplit.Fnv1a64).Take(devCount).ToHashSet();
        Assert.That(dev.ToHashSet().SetEquals(expectedDev), Is.True);
        Assert.That(dev, Is.EqualTo(rows.Where(expectedDev.Contains).ToList()), "dev keeps the file's order");
        Assert.That(train, Is.EqualTo(rows.Where(r => !expectedDev.Contains(r)).ToList()), "train keeps the file's order");

        // The same rows in another order give the same dev set: the split does not depend on position.
        var shuffled = rows.Skip(n / 3).Concat(rows.Take(n / 3)).Reverse().ToList();
        Assert.That(GlueDevSplit.Split(shuffled, fraction).Dev.ToHashSet().SetEquals(dev), Is.True);
    }

    [Test]
    public void ATaskWithADevFileIsUsedAsItIsAndOneWithoutGetsItsSplitWritten()
    {
        var glue = Path.Combine(_dir, "glue");
        Directory.CreateDirectory(Path.Combine(glue, "sst2"));
        File.WriteAllText(Path.Combine(glue, "sst2", "train.tsv"), "sentence\tlabel\ngood\t1\n");
        File.WriteAllText(Path.Combine(glue, "sst2", "dev.tsv"), "sentence\tlabel\nbad\t0\n");
        var sst2 = GlueDevSplit.Locate(GlueTask.Sst2, glue, Path.Combine(_dir, "split"), 0.1);
        Assert.That((sst2.IsSplit, sst2.Dir), Is.EqualTo((false, Path.Combine(glue, "sst2"))));
        Assert.That(GlueDevSplit.Write(sst2), Is.Null);
        Assert.That(Directory.Exists(Path.Combine(_dir, "split")), Is.False);

        // CoLA as GLUE ships it (4 columns, no header), 20 rows: 2 go to dev.
        Directory.CreateDirectory(Path.Combine(glue, "cola"));
        var rows = Enumerable.Range(0, 20).Select(i => $"src{i}\t{i % 2}\t\tsentence {i} .").ToList();
        File.WriteAllLines(Path.Combine(glue, "cola", "train.tsv"), ["", .. rows]);
        var cola = GlueDevSplit.Locate(GlueTask.Cola, glue, Path.Combine(_dir, "split"), 0.1);
        Assert.That(cola.IsSplit, Is.True);
        Assert.That(File.Exists(Path.Combine(cola.Dir, "dev.tsv")), Is.False, "Locate writes nothing");
        var note = GlueDevSplit.Write(cola);
        Assert.That(note, Does.Contain("dev = 2 of its 20 rows"));
        var train = GlueReader.ReadSplit(GlueTask.Cola, cola.Dir, dev: false);
        var dev = GlueReader.ReadSplit(GlueTask.Cola, cola.Dir, dev: true);
        Assert.That((train.Examples.Count, dev.Examples.Count), Is.EqualTo((18, 2)));
        Assert.That(dev.Examples.Select(e => e.TextA), Is.EqualTo(GlueDevSplit.Split(rows, 0.1).Dev.Select(r => r.Split('\t')[3])));

        // Written again from the same file: the same bytes.
        var before = File.ReadAllBytes(Path.Combine(cola.Dir, "dev.tsv"));
        GlueDevSplit.Write(cola);
        Assert.That(File.ReadAllBytes(Path.Combine(cola.Dir, "dev.tsv")), Is.EqualTo(before));
    }

    [Test]
    public void AHeaderGoesOnBothFilesAndTooFewRowsAreRefused()
    {
        var glue = Path.Combine(_dir, "glue");
        Directory.CreateDirectory(Path.Combine(glue, "sst2"));
        File.WriteAllLines(Path.Combine(glue, "sst2", "train.tsv"), ["sentence\tlabel", .. Enumerable.Range(0, 10).Select(i => $"phrase {i}\t{i % 2}")]);
        var data = GlueDevSplit.Locate(GlueTask.Sst2, glue, Path.Combine(_dir, "split"), 0.3);
        GlueDevSplit.Write(data);
        Assert.That(File.ReadLines(Path.Combine(data.Dir, "dev.tsv")).First(), Is.EqualTo("sentence\tlabel"));
        Assert.That(File.ReadLines(Path.Combine(data.Dir, "train.tsv")).First(), Is.EqualTo("sentence\tlabel"));
        Assert.That(GlueReader.ReadSplit(GlueTask.Sst2, data.Dir, dev: true).Examples, Has.Count.EqualTo(3));

        File.WriteAllLines(Path.Combine(glue, "sst2", "train.tsv"), ["sentence\tlabel", "only one\t1"]);
        Assert.That(() => GlueDevSplit.Write(data), Throws.ArgumentException.With.Message.Contains("too few"));
        Assert.That(() => GlueDevSplit.Locate(GlueTask.Sst2, glue, _dir, 1.5), Throws.ArgumentException.With.Message.Contains("--dev-fraction"));
        Assert.That(() => GlueDevSplit.Locate(GlueTask.Rte, glue, _dir, 0.1), Throws.InstanceOf<FileNotFoundException>().With.Message.Contains("rte"));
    }
}
