using System.Text;
using Electra.Train.Glue;

namespace Electra.Tests.Train;

public class GlueTests
{
    private string _dir = "";

    [SetUp]
    public void CreateDir() => _dir = TestData.TempDir();

    [TearDown]
    public void DeleteDir() => Directory.Delete(_dir, recursive: true);

    private string Tsv(string name, params string[] lines)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, string.Join("\n", lines) + "\n", new UTF8Encoding(false));
        return path;
    }

    // ---- layouts --------------------------------------------------------------------------------------------

    [Test]
    public void Sst2WithHeaderKeepsUnbalancedQuotes()
    {
        var path = Tsv("train.tsv", "sentence\tlabel", "it 's \"a mess \t0", "a \"great\" film \t1");
        var data = GlueReader.Read(GlueTask.Sst2, path);
        Assert.That(data.HadHeader, Is.True);
        Assert.That(data.Examples, Is.EqualTo(new[]
        {
            new GlueExample("it 's \"a mess ", null, 0, null),
            new GlueExample("a \"great\" film ", null, 1, null),
        }));
    }

    [Test]
    public void Sst2WithoutHeaderIsDetected()
    {
        var data = GlueReader.Read(GlueTask.Sst2, Tsv("train.tsv", "good\t1", "bad\t0", "", "fine\t1"));
        Assert.That(data.HadHeader, Is.False);
        Assert.That(data.Examples.Select(e => (e.TextA, e.Label)), Is.EqualTo(new[] { ("good", 1), ("bad", 0), ("fine", 1) }));
    }

    [Test]
    public void ColaGlueLayoutHasFourColumnsAndNoHeader()
    {
        var path = Tsv("dev.tsv", "gj04\t1\t\tOur friends won't buy this analysis.", "gj04\t0\t*\tThey drank the pub.");
        var data = GlueReader.Read(GlueTask.Cola, path);
        Assert.That(data.HadHeader, Is.False);
        Assert.That(data.Layout.Columns, Is.EqualTo(4));
        Assert.That(data.Examples, Is.EqualTo(new[]
        {
            new GlueExample("Our friends won't buy this analysis.", null, 1, null),
            new GlueExample("They drank the pub.", null, 0, null),
        }));
    }

    [Test]
    public void ColaSimpleTwoColumnLayoutIsDetected()
    {
        var data = GlueReader.Read(GlueTask.Cola, Tsv("train.tsv", "they drank the pub .\t0", "the sailors rode the breeze clear of the rocks .\t1"));
        Assert.That(data.Layout.Columns, Is.EqualTo(2));
        Assert.That(data.Examples.Select(e => e.Label), Is.EqualTo(new[] { 0, 1 }));
        Assert.That(data.Examples[1].TextA, Is.EqualTo("the sailors rode the breeze clear of the rocks ."));
    }

    [Test]
    public void MrpcWithByteOrderMarkAndHeader()
    {
        var path = Path.Combine(_dir, "train.tsv");
        File.WriteAllText(path,
            "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n" +
            "1\t702876\t702977\tAmrozi accused his brother , whom he called \" the witness \" .\tReferring to him as only \" the witness \" , Amrozi accused his brother .\n" +
            "0\t2108705\t2108831\tYucaipa owned Dominick 's .\tYucaipa bought Dominick 's in 1995 .\n",
            new UTF8Encoding(true));
        var data = GlueReader.Read(GlueTask.Mrpc, path);
        Assert.That(data.HadHeader, Is.True);
        Assert.That(data.Examples, Has.Count.EqualTo(2));
        Assert.That(data.Examples[0].Label, Is.EqualTo(1));
        Assert.That(data.Examples[0].TextA, Is.EqualTo("Amrozi accused his brother , whom he called \" the witness \" ."));
        Assert.That(data.Examples[1], Is.EqualTo(new GlueExample("Yucaipa owned Dominick 's .", "Yucaipa bought Dominick 's in 1995 .", 0, null)));
    }

    [Test]
    public void RteAndQnliUseTextLabels()
    {
        var rte = GlueReader.Read(GlueTask.Rte, Tsv("train.tsv", "index\tsentence1\tsentence2\tlabel",
            "0\tNo Weapons of Mass Destruction Found in Iraq Yet.\tWeapons of Mass Destruction Found in Iraq.\tnot_entailment",
            "1\tA place of sorrow.\tA place of sadness.\tentailment"));
        Assert.That(rte.Examples.Select(e => e.Label), Is.EqualTo(new[] { 1, 0 }));
        Assert.That(rte.Examples[1].TextB, Is.EqualTo("A place of sadness."));

        var qnli = GlueReader.Read(GlueTask.Qnli, Tsv("dev.tsv", "index\tquestion\tsentence\tlabel",
            "0\tWhat came into force after the new constitution was herald?\tAs of that day, the new constitution came into force.\tentailment"));
        Assert.That(qnli.Examples.Single(), Is.EqualTo(new GlueExample(
            "What came into force after the new constitution was herald?", "As of that day, the new constitution came into force.", 0, null)));
    }

    [Test]
    public void QqpSkipsAndCountsRowsWithMissingFields()
    {
        var data = GlueReader.Read(GlueTask.Qqp, Tsv("train.tsv", "id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate",
            "133273\t213221\t213222\tHow is the life of a math student?\tWhich level of prepration is enough?\t0",
            "363362\t493340\t493341\tHow do I learn Python?",
            "7\t15\t16\tHow do I read and find my YouTube comments?\tHow can I see all my Youtube comments?\t1"));
        Assert.That(data.SkippedRows, Is.EqualTo(1));
        Assert.That(data.Examples.Select(e => e.Label), Is.EqualTo(new[] { 0, 1 }));
        Assert.That(data.Examples[1].TextB, Is.EqualTo("How can I see all my Youtube comments?"));
    }

    [Test]
    public void QqpRowWithTooManyColumnsIsStillAnError()
    {
        var path = Tsv("train.tsv", "id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate", "1\t2\t3\ta\tb\t0\textra");
        var ex = Assert.Throws<GlueDataException>(() => GlueReader.Read(GlueTask.Qqp, path));
        Assert.That(ex!.Message, Does.StartWith($"{path}:2: expected 6 tab-separated columns").And.Contain("found 7"));
    }

    [Test]
    public void MnliTrainAndDevMatchedHaveDifferentColumnCounts()
    {
        string Row(string s1, string s2, string gold, int annotators) =>
            string.Join('\t', new[] { "0", "31193", "31193n", "government", "( ( x ) )", "( y )", "(ROOT x)", "(ROOT y)", s1, s2 }
                .Concat(Enumerable.Repeat(gold, annotators)).Append(gold));
        Tsv("train.tsv",
            "index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\tsentence1_parse\tsentence2_parse\tsentence1\tsentence2\tlabel1\tgold_label",
            Row("Conceptually cream skimming has two basic dimensions.", "Product and geography are what make cream skimming work.", "neutral", 1));
        Tsv("dev_matched.tsv",
            "index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\tsentence1_parse\tsentence2_parse\tsentence1\tsentence2\tlabel1\tlabel2\tlabel3\tlabel4\tlabel5\tgold_label",
            Row("The new rights are nice enough", "Everyone really likes the newest benefits", "contradiction", 5),
            Row("This site includes a list", "The Government Executive articles are here.", "entailment", 5));
        var train = GlueReader.ReadSplit(GlueTask.Mnli, _dir, dev: false);
        var dev = GlueReader.ReadSplit(GlueTask.Mnli, _dir, dev: true);
        Assert.That(train.Examples.Single(), Is.EqualTo(new GlueExample(
            "Conceptually cream skimming has two basic dimensions.", "Product and geography are what make cream skimming work.", 1, null)));
        Assert.That(dev.Examples.Select(e => e.Label), Is.EqualTo(new[] { 2, 0 }));
        Assert.That(dev.Examples[0].TextB, Is.EqualTo("Everyone really likes the newest benefits"));
    }

    [Test]
    public void StsbReadsTheScoreFromTheLastColumn()
    {
        var data = GlueReader.Read(GlueTask.Stsb, Tsv("dev.tsv",
            "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore",
            "0\tmain-captions\tMSRvid\t2012test\t0000\tnone\tnone\tA man with a hard hat is dancing.\tA man wearing a hard hat is dancing.\t5.000",
            "1\tmain-captions\tMSRvid\t2012test\t0002\tnone\tnone\tA young child is riding a horse.\tA child is riding a horse.\t4.750"));
        Assert.That(data.Examples, Is.EqualTo(new[]
        {
            new GlueExample("A man with a hard hat is dancing.", "A man wearing a hard hat is dancing.", -1, 5f),
            new GlueExample("A young child is riding a horse.", "A child is riding a horse.", -1, 4.75f),
        }));
        Assert.That(GlueTask.Stsb.NumLabels, Is.EqualTo(1));
    }

    // ---- malformed rows -------------------------------------------------------------------------------------

    [Test]
    public void WrongColumnCountNamesFileAndLine()
    {
        var path = Tsv("train.tsv", "sentence\tlabel", "fine\t1", "a tab\tinside\t0");
        var ex = Assert.Throws<GlueDataException>(() => GlueReader.Read(GlueTask.Sst2, path));
        Assert.That(ex!.Message, Is.EqualTo($"{path}:3: expected 2 tab-separated columns (SST-2: sentence, label), found 3"));
    }

    [Test]
    public void LineNumbersCountBlankLinesAndCrLfEndings()
    {
        var path = Path.Combine(_dir, "train.tsv");
        File.WriteAllText(path, "fine\t1\r\n\r\ngood\t0\r\nbad\t1\t2\r\n");
        var ex = Assert.Throws<GlueDataException>(() => GlueReader.Read(GlueTask.Sst2, path));
        Assert.That(ex!.Message, Does.StartWith($"{path}:4: expected 2"));
        File.WriteAllText(path, "only\tone\tbad\n");
        ex = Assert.Throws<GlueDataException>(() => GlueReader.Read(GlueTask.Sst2, path));
        Assert.That(ex!.Message, Does.StartWith($"{path}:1: first row has 3"));
    }

    [Test]
    public void UnknownLabelNamesFileLineAndTheLabelSet()
    {
        var path = Tsv("train.tsv", "index\tsentence1\tsentence2\tlabel", "0\ta\tb\tentailment", "1\ta\tb\tneutral");
        var ex = Assert.Throws<GlueDataException>(() => GlueReader.Read(GlueTask.Rte, path));
        Assert.That(ex!.Message, Is.EqualTo($"{path}:3: label 'neutral' is not one of rte's labels (entailment, not_entailment)"));
    }

    [Test]
    public void UnparsableScoreNamesFileAndLine()
    {
        var header = "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore";
        var path = Tsv("dev.tsv", header, "0\tg\tf\ty\t0\tn\tn\ta\tb\thigh");
        var ex = Assert.Throws<GlueDataException>(() => GlueReader.Read(GlueTask.Stsb, path));
        Assert.That(ex!.Message, Is.EqualTo($"{path}:2: score 'high' is not a number"));
        path = Tsv("dev2.tsv", header, "0\tg\tf\ty\t0\tn\tn\ta\tb\t7.5");
        ex = Assert.Throws<GlueDataException>(() => GlueReader.Read(GlueTask.Stsb, path));
        Assert.That(ex!.Message, Is.EqualTo($"{path}:2: score 7.5 is outside STS-B's range [0, 5]"));
    }

    [Test]
    public void FirstRowThatFitsNoLayoutListsTheLayouts()
    {
        var path = Tsv("train.tsv", "a\tb\tc");
        var ex = Assert.Throws<GlueDataException>(() => GlueReader.Read(GlueTask.Cola, path));
        Assert.That(ex!.Message, Does.StartWith($"{path}:1: first row has 3 tab-separated columns; cola expects 4 columns").And.Contain("or 2 columns"));
    }

    [Test]
    public void EmptyFileAndMissingFile()
    {
        var path = Tsv("train.tsv");
        var ex = Assert.Throws<GlueDataException>(() => GlueReader.Read(GlueTask.Sst2, path));
        Assert.That(ex!.Message, Does.StartWith($"{path}: empty file"));
        var missing = Assert.Throws<FileNotFoundException>(() => GlueReader.ReadSplit(GlueTask.Mnli, _dir, dev: true));
        Assert.That(missing!.Message, Does.Contain("dev_matched.tsv not found"));
    }

    [Test]
    public void TaskNamesResolve()
    {
        Assert.That(GlueTask.Get("SST-2"), Is.SameAs(GlueTask.Sst2));
        Assert.That(GlueTask.Get("sts-b"), Is.SameAs(GlueTask.Stsb));
        Assert.That(GlueTask.Mnli.Labels, Is.EqualTo(new[] { "entailment", "neutral", "contradiction" }));
        var ex = Assert.Throws<ArgumentException>(() => GlueTask.Get("wnli"));
        Assert.That(ex!.Message, Does.Contain("unknown GLUE task 'wnli'"));
    }

    // ---- the shared GLUE copies -----------------------------------------------------------------------------

    [Test]
    public void SharedSst2DevHasItsDocumentedRowCount()
    {
        var data = GlueReader.Read(GlueTask.Sst2, TestData.RequireShared("sst2/dev.tsv"));
        Assert.That(data.HadHeader, Is.True);
        Assert.That(data.Examples, Has.Count.EqualTo(6735));
        Assert.That(data.Examples.Count(e => e.Label == 1), Is.InRange(1, 6734));
    }

    [Test]
    public void SharedColaTrainHasItsDocumentedRowCount()
    {
        var data = GlueReader.Read(GlueTask.Cola, TestData.RequireShared("cola/train.tsv"));
        Assert.That(data.HadHeader, Is.False);
        Assert.That(data.Layout.Columns, Is.EqualTo(2));
        Assert.That(data.Examples, Has.Count.EqualTo(8551));
        Assert.That(data.Examples[0].TextA, Is.EqualTo("our friends wo n't buy this analysis , let alone the next one we propose"));
    }

    // ---- metrics --------------------------------------------------------------------------------------------

    private static readonly int[] Predicted = [1, 0, 1, 1, 0];
    private static readonly int[] Gold = [1, 0, 0, 1, 1];

    [Test]
    public void AccuracyAndF1ByHand()
    {
        Assert.That(GlueMetrics.Accuracy(Predicted, Gold), Is.EqualTo(0.6).Within(1e-15));
        // tp 2, fp 1, fn 1: F1 = 2·2 / (2·2 + 1 + 1)
        Assert.That(GlueMetrics.F1(Predicted, Gold), Is.EqualTo(2.0 / 3).Within(1e-15));
        // Class 0 as the positive one: tp 1, fp 1, fn 1.
        Assert.That(GlueMetrics.F1(Predicted, Gold, positive: 0), Is.EqualTo(0.5).Within(1e-15));
        Assert.That(GlueMetrics.F1([0, 0], [0, 0]), Is.EqualTo(0));
    }

    [Test]
    public void MatthewsCorrelationByHand()
    {
        // tp 2, tn 1, fp 1, fn 1: (2·1 − 1·1) / √(3·3·2·2) = 1/6
        Assert.That(GlueMetrics.MatthewsCorrelation(Predicted, Gold), Is.EqualTo(1.0 / 6).Within(1e-15));
        // scikit-learn's documented example: −1/3
        Assert.That(GlueMetrics.MatthewsCorrelation([1, 0, 1, 1], [1, 1, 1, 0]), Is.EqualTo(-1.0 / 3).Within(1e-15));
        Assert.That(GlueMetrics.MatthewsCorrelation([1, 0, 1], [1, 0, 1]), Is.EqualTo(1).Within(1e-15));
        Assert.That(GlueMetrics.MatthewsCorrelation([0, 1, 0], [1, 0, 1]), Is.EqualTo(-1).Within(1e-15));
        Assert.That(GlueMetrics.MatthewsCorrelation([1, 1, 1, 1], [1, 0, 1, 0]), Is.EqualTo(0), "constant predictions");
        // Three classes: c = 3, s = 6, Σp·t = 12, Σp² = 14, Σt² = 12: (3·6 − 12) / √((36 − 14)(36 − 12))
        Assert.That(GlueMetrics.MatthewsCorrelation([0, 2, 1, 0, 0, 2], [0, 1, 2, 0, 1, 2]), Is.EqualTo(6 / Math.Sqrt(528)).Within(1e-15));
    }

    [Test]
    public void PearsonAndSpearmanWithTiesByHand()
    {
        float[] x = [1, 2, 3, 4, 5];
        float[] y = [2, 4, 5, 4, 5];
        // deviations x: −2 −1 0 1 2; y: −2 0 1 0 1 → 6 / √(10·6)
        Assert.That(GlueMetrics.Pearson(x, y), Is.EqualTo(6 / Math.Sqrt(60)).Within(1e-12));
        // y ranks with ties averaged: 1, 2.5, 4.5, 2.5, 4.5 → 7 / √(10·9); ordinal ranks would give 0.9
        Assert.That(GlueMetrics.AverageRanks(y), Is.EqualTo(new[] { 1, 2.5, 4.5, 2.5, 4.5 }));
        Assert.That(GlueMetrics.Spearman(x, y), Is.EqualTo(7 / Math.Sqrt(90)).Within(1e-12));
        Assert.That(GlueMetrics.AverageRanks([3, 1, 4, 1, 5, 9, 2, 6, 5]), Is.EqualTo(new[] { 4, 1.5, 5, 1.5, 6.5, 9, 3, 8, 6.5 }));
        Assert.That(GlueMetrics.Spearman([1, 2, 3], [10, 100, 1000]), Is.EqualTo(1).Within(1e-15), "monotone");
        Assert.That(double.IsNaN(GlueMetrics.Pearson([1, 1, 1], y.AsSpan(0, 3))), Is.True, "undefined for a constant input");
    }

    [Test]
    public void EachTaskGetsTheMetricsGlueDefines()
    {
        string Names(GlueTask t) => string.Join(",", GlueMetrics.Evaluate(t, Predicted, Gold).Select(m => m.Name));
        Assert.That(Names(GlueTask.Sst2), Is.EqualTo("accuracy"));
        Assert.That(Names(GlueTask.Rte), Is.EqualTo("accuracy"));
        Assert.That(Names(GlueTask.Qnli), Is.EqualTo("accuracy"));
        Assert.That(Names(GlueTask.Mnli), Is.EqualTo("accuracy"));
        Assert.That(Names(GlueTask.Mrpc), Is.EqualTo("f1,accuracy"));
        Assert.That(Names(GlueTask.Qqp), Is.EqualTo("f1,accuracy"));
        Assert.That(Names(GlueTask.Cola), Is.EqualTo("mcc"));
        var stsb = GlueMetrics.Evaluate(GlueTask.Stsb, [1f, 2, 3, 4, 5], [2f, 4, 5, 4, 5]);
        Assert.That(stsb.Select(m => m.Name), Is.EqualTo(new[] { "pearson", "spearman" }));
        Assert.That(GlueMetrics.MainScore(stsb), Is.EqualTo((6 / Math.Sqrt(60) + 7 / Math.Sqrt(90)) / 2).Within(1e-12));
        Assert.That(GlueMetrics.MainScore(GlueMetrics.Evaluate(GlueTask.Mrpc, Predicted, Gold)), Is.EqualTo((2.0 / 3 + 0.6) / 2).Within(1e-15));
        Assert.Throws<ArgumentException>(() => GlueMetrics.Evaluate(GlueTask.Stsb, Predicted, Gold));
        Assert.Throws<ArgumentException>(() => GlueMetrics.Accuracy([1, 0], [1]));
    }
}
