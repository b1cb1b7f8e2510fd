using System.Buffers.Binary;
using Electra.Train.Commands;
using Electra.Train.Reporting;

namespace Electra.Tests.Train;

public class PlotTests
{
    private static readonly byte[] PngSignature = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];

    private string _dir = "";

    [SetUp]
    public void CreateDir() => _dir = TestData.TempDir();

    [TearDown]
    public void DeleteDir() => Directory.Delete(_dir, recursive: true);

    private string Jsonl(params string[] lines)
    {
        var path = Path.Combine(_dir, "metrics.jsonl");
        File.WriteAllLines(path, lines);
        return path;
    }

    private static string PretrainLog(int steps)
    {
        var lines = new List<string>();
        for (int s = 1; s <= steps; s++)
        {
            double mlm = 10 * Math.Exp(-s / 40.0) + 1, disc = 0.6 * Math.Exp(-s / 30.0) + 0.2;
            lines.Add($$"""{"step":{{s}},"loss":{{mlm + 50 * disc}},"mlm_loss":{{mlm}},"disc_loss":{{disc}},"disc_acc":{{1 - disc / 2}},"lr":{{5e-4 * Math.Min(1, s / 20.0)}},"ms":12.5,"note":"x"}""");
        }
        return string.Join("\n", lines);
    }

    /// <summary>Width and height from the PNG's IHDR chunk (big-endian, right after the signature and chunk header).</summary>
    private static (int Width, int Height) PngSize(byte[] png) =>
        (BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(16)), BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(20)));

    [Test]
    public void PretrainingLogBecomesThreeStackedPanels()
    {
        var metrics = Jsonl(PretrainLog(120).Split('\n'));
        var png = Path.Combine(_dir, "out", "loss.png");
        var summary = MetricsPlot.Render(metrics, png, width: 800, panelHeight: 250);

        Assert.That(summary.Records, Is.EqualTo(120));
        Assert.That(summary.Panels.Select(p => p.Panel), Is.EqualTo(new[] { "loss", "accuracy / score", "learning rate" }));
        Assert.That(summary.Panels[0].Series, Is.EqualTo(new[] { "disc_loss", "loss", "mlm_loss" }));
        Assert.That(summary.Panels[1].Series, Is.EqualTo(new[] { "disc_acc" }));
        Assert.That(summary.Panels[2].Series, Is.EqualTo(new[] { "lr" }));

        var bytes = File.ReadAllBytes(png);
        Assert.That(bytes.AsSpan(0, 8).ToArray(), Is.EqualTo(PngSignature));
        Assert.That(PngSize(bytes), Is.EqualTo((800, 750)));
        Assert.That(bytes.Length, Is.InRange(10_000, 5_000_000), "a 800×750 chart with curves, labels and legends");
    }

    [Test]
    public void RunsComparedOnTheSamePanelsAreLabelledByTheirDirectory()
    {
        var paths = new List<string>();
        foreach (var run in new[] { "bf16", "fp32" })
        {
            Directory.CreateDirectory(Path.Combine(_dir, run));
            var path = Path.Combine(_dir, run, "metrics.jsonl");
            File.WriteAllText(path, PretrainLog(run == "bf16" ? 100 : 80));
            paths.Add(path);
        }
        var png = Path.Combine(_dir, "compare.png");
        var summary = MetricsPlot.Render(paths, png, width: 800, panelHeight: 250);
        Assert.That(summary.Records, Is.EqualTo(180), "both logs are read");
        Assert.That(summary.Panels.Select(p => p.Panel), Is.EqualTo(new[] { "loss", "accuracy / score", "learning rate" }));
        Assert.That(PngSize(File.ReadAllBytes(png)), Is.EqualTo((800, 750)));
        var e = Assert.Throws<FileNotFoundException>(() => MetricsPlot.Render([paths[0], Path.Combine(_dir, "none", "metrics.jsonl")], png));
        Assert.That(e!.Message, Does.Contain("none"));

        var only = MetricsPlot.Render(paths, png, series: ["loss", "mlm_loss"]);
        Assert.That(only.Panels.Select(p => (p.Panel, string.Join(",", p.Series))), Is.EqualTo(new[] { ("loss", "loss,mlm_loss") }));
        var bad = Assert.Throws<FormatException>(() => MetricsPlot.Render(paths, png, series: ["loss", "perplexity"]));
        Assert.That(bad!.Message, Does.Contain("no key perplexity"));
    }

    [Test]
    public void FineTuningLogWithoutLrDrawsOnlyWhatItHas()
    {
        var metrics = Jsonl(
            """{"step":10,"loss":0.69}""",
            """{"step":20,"loss":0.52}""",
            """{"dev_accuracy":0.81,"dev_f1":0.84,"epoch":1}""",
            """{"step":30,"loss":0.40}""");
        var png = Path.Combine(_dir, "ft.png");
        var summary = MetricsPlot.Render(metrics, png, width: 600, panelHeight: 200);
        Assert.That(summary.Panels.Select(p => p.Panel), Is.EqualTo(new[] { "loss", "accuracy / score" }));
        Assert.That(summary.Panels[1].Series, Is.EqualTo(new[] { "dev_accuracy", "dev_f1" }));
        Assert.That(PngSize(File.ReadAllBytes(png)), Is.EqualTo((600, 400)));

        var records = MetricsLog.Read(metrics);
        Assert.That(records.Select(r => r.Step), Is.EqualTo(new[] { 10.0, 20, 20, 30 }), "the dev record sits at the last step");
        Assert.That(records[2].Values.ContainsKey("epoch"), Is.True);
    }

    [Test]
    public void KeysAreSortedIntoPanels()
    {
        Assert.That(MetricsPlot.PanelOf("mlm_loss"), Is.EqualTo("loss"));
        Assert.That(MetricsPlot.PanelOf("lr"), Is.EqualTo("learning rate"));
        Assert.That(MetricsPlot.PanelOf("head_lr"), Is.EqualTo("learning rate"));
        Assert.That(MetricsPlot.PanelOf("dev_mcc"), Is.EqualTo("accuracy / score"));
        Assert.That(MetricsPlot.PanelOf("disc_acc"), Is.EqualTo("accuracy / score"));
        Assert.That(MetricsPlot.PanelOf("disc_auc"), Is.EqualTo("accuracy / score"));
        Assert.That(MetricsPlot.PanelOf("tokens_per_sec"), Is.Null);
        Assert.That(MetricsPlot.PanelOf("epoch"), Is.Null);
    }

    [Test]
    public void BadLineIsReportedWithFileAndLine()
    {
        var metrics = Jsonl("""{"step":1,"loss":2.0}""", "", """{"step":3,"loss":1.5""");
        var ex = Assert.Throws<FormatException>(() => MetricsPlot.Render(metrics, Path.Combine(_dir, "x.png")));
        Assert.That(ex!.Message, Does.StartWith($"{metrics}:3: not valid JSON"));
        Assert.That(File.Exists(Path.Combine(_dir, "x.png")), Is.False);

        metrics = Jsonl("""{"step":1,"loss":2.0}""", "[1, 2]");
        ex = Assert.Throws<FormatException>(() => MetricsLog.Read(metrics));
        Assert.That(ex!.Message, Is.EqualTo($"{metrics}:2: expected a JSON object, found array"));
    }

    [Test]
    public void EmptyMissingAndKeylessFilesAreClearErrors()
    {
        var metrics = Jsonl("", "  ");
        var ex = Assert.Throws<FormatException>(() => MetricsLog.Read(metrics));
        Assert.That(ex!.Message, Does.StartWith($"{metrics}: empty"));

        var missing = Path.Combine(_dir, "nope.jsonl");
        var notFound = Assert.Throws<FileNotFoundException>(() => MetricsLog.Read(missing));
        Assert.That(notFound!.Message, Is.EqualTo($"metrics file {missing} not found"));

        metrics = Jsonl("""{"step":1,"ms":3.5}""");
        ex = Assert.Throws<FormatException>(() => MetricsPlot.Render(metrics, Path.Combine(_dir, "x.png")));
        Assert.That(ex!.Message, Does.Contain("nothing to plot").And.Contain("[ms]"));
    }

    [Test]
    public void CommandWritesThePngAndFailsWithExitCodeOne()
    {
        var metrics = Jsonl(PretrainLog(30).Split('\n'));
        var png = Path.Combine(_dir, "cli.png");
        var command = PlotCommand.Create();
        var originalOut = Console.Out;
        var originalError = Console.Error;
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        try
        {
            Console.SetOut(stdout);
            Console.SetError(stderr);
            Assert.That(command.Parse(["--metrics", metrics, "--out", png]).Invoke(), Is.EqualTo(0));
            Assert.That(File.ReadAllBytes(png).AsSpan(0, 8).ToArray(), Is.EqualTo(PngSignature));
            Assert.That(stdout.ToString(), Does.Contain($"wrote {png} (30 records)"));

            Assert.That(command.Parse(["--metrics", Path.Combine(_dir, "absent.jsonl"), "--out", png]).Invoke(), Is.EqualTo(1));
            Assert.That(stderr.ToString(), Does.Contain("electra plot: metrics file").And.Contain("absent.jsonl not found"));
        }
        finally
        {
            Console.SetOut(originalOut);
            Console.SetError(originalError);
        }
    }

    [TestCase("--width", "100000", "electra plot: --width 100000: expected 200..10000 pixels")]
    [TestCase("--width", "50", "electra plot: --width 50: expected 200..10000 pixels")]
    [TestCase("--panel-height", "-1", "electra plot: --panel-height -1: expected 100..4000 pixels")]
    [TestCase("--panel-height", "2000000", "electra plot: --panel-height 2000000: expected 100..4000 pixels")]
    public void AbsurdSizesAreOneLineErrors(string option, string value, string expected)
    {
        var metrics = Jsonl(PretrainLog(10).Split('\n'));
        var png = Path.Combine(_dir, "big.png");
        var (code, stdout, stderr) = Plot("--metrics", metrics, "--out", png, option, value);
        Assert.That((code, stderr, stdout), Is.EqualTo((1, expected + "\n", "")));
        Assert.That(File.Exists(png), Is.False);
    }

    [Test]
    public void UnwritableOutputsAreOneLineErrors()
    {
        var metrics = Jsonl(PretrainLog(10).Split('\n'));
        // Root may write anywhere, so "unwritable" here is a path through a file, and a path that is a folder.
        var file = Path.Combine(_dir, "a-file");
        File.WriteAllText(file, "x");
        var (code, _, stderr) = Plot("--metrics", metrics, "--out", Path.Combine(file, "sub", "loss.png"));
        Assert.That(code, Is.EqualTo(1));
        Assert.That(stderr, Does.StartWith($"electra plot: cannot write {Path.Combine(file, "sub", "loss.png")}: "));
        Assert.That(stderr.TrimEnd('\n').Split('\n'), Has.Length.EqualTo(1));
        Assert.That(File.ReadAllText(file), Is.EqualTo("x"));

        var folder = Path.Combine(_dir, "folder");
        Directory.CreateDirectory(folder);
        (code, _, stderr) = Plot("--metrics", metrics, "--out", folder);
        Assert.That((code, stderr), Is.EqualTo((1, $"electra plot: --out {folder} is a folder; expected the path of a .png file\n")));
        Assert.That(Directory.GetFileSystemEntries(folder), Is.Empty);
    }

    private static (int Code, string Out, string Error) Plot(params string[] args)
    {
        var (originalOut, originalError) = (Console.Out, Console.Error);
        var (stdout, stderr) = (new StringWriter(), new StringWriter());
        try
        {
            Console.SetOut(stdout);
            Console.SetError(stderr);
            return (PlotCommand.Create().Parse(args).Invoke(), stdout.ToString(), stderr.ToString());
        }
        finally
        {
            Console.SetOut(originalOut);
            Console.SetError(originalError);
        }
    }
}
