using System.Text.Json;
using Electra.Benchmarks.Cuda;
using Electra.Cuda;

namespace Electra.Tests.Cuda;

/// <summary>The CUDA benchmark harness without a device: its command line and its report, from made-up timings.</summary>
public class CudaBenchReportTests
{
    private static readonly BenchHeader Header = new("Test GPU 80GB", "sm_90", 132, 81_000, 120_000, "12.4", "caching", new DateTime(2026, 11, 26, 17, 5, 0, DateTimeKind.Utc), 42);

    [Test]
    public void OptionsParseOutQuickAndDefaults()
    {
        Assert.That(CudaBenchOptions.Parse(["--cuda"]), Is.EqualTo(new CudaBenchOptions(CudaBenchOptions.DefaultOutDir, false)));
        Assert.That(CudaBenchOptions.Parse(["--cuda", "--out", "res/x", "--quick"]), Is.EqualTo(new CudaBenchOptions("res/x", true)));
        Assert.That(CudaBenchOptions.Parse(["--quick", "--cuda", "--out", "y"]), Is.EqualTo(new CudaBenchOptions("y", true)));
    }

    [Test]
    public void OptionsRejectAMissingFolderAndUnknownArguments()
    {
        var e = Assert.Throws<ArgumentException>(() => CudaBenchOptions.Parse(["--cuda", "--out"]));
        Assert.That(e!.Message, Does.Contain("--out needs a folder").And.Contain("nothing"));
        e = Assert.Throws<ArgumentException>(() => CudaBenchOptions.Parse(["--cuda", "--out", "--quick"]));
        Assert.That(e!.Message, Does.Contain("'--quick'"));
        e = Assert.Throws<ArgumentException>(() => CudaBenchOptions.Parse(["--cuda", "--fast"]));
        Assert.That(e!.Message, Does.Contain("unknown argument '--fast'"));
    }

    private static List<BenchResult> FakeResults() =>
    [
        new("copy d2d", "256 MiB", 1.0, 0.9, 2e9, 0, null),                                  // 2,000 GB/s ceiling
        new("layernorm bwd", "[16384,256]", 0.5, 0.4, 0.8e9, 0, null, 3),                     // 1,600 GB/s = 80%
        new("layernorm bwd unfused", "[16384,256]", 2.0, 1.9, 0.8e9, 0, null),
        new("attention fwd f32 p=0", "S", 0.25, 0.2, 1e8, 1e9, null),
        new("attention bwd f32 p=0", "S", 0.75, 0.7, 1e8, 3e9, null),
        new("attention fwd f32 cuBLAS", "S", 1.0, 0.9, 1e8, 1e12, null),
        new("attention bwd f32 cuBLAS", "S", 2.0, 1.9, 1e8, 2e12, null),
        new("gumbel sample", "G", 0.1, 0.1, 1e8, 0, null),
        new("gumbel sample unfused", "G", 0, 0, 1e8, 0, "CudaException: out of memory"),
    ];

    private static readonly BenchComparison[] Comparisons =
    [
        new("layernorm bwd vs unfused", "[16384,256]", ["layernorm bwd"], ["layernorm bwd unfused"]),
        new("attention fwd+bwd f32 vs cuBLAS", "S", ["attention fwd f32 p=0", "attention bwd f32 p=0"], ["attention fwd f32 cuBLAS", "attention bwd f32 cuBLAS"]),
        new("gumbel sample vs unfused", "G", ["gumbel sample"], ["gumbel sample unfused"]),
        new("missing", "S", ["attention fwd bf16 mma p=0"], ["attention fwd f32 cuBLAS"]),
    ];

    [Test]
    public void ComparisonsSumCasesAndUseTheMeasuredCopyBandwidth()
    {
        var rows = CudaReport.Compare(FakeResults(), Comparisons);
        Assert.That(rows, Has.Count.EqualTo(4));
        var ln = rows[0];
        Assert.That(ln.Error, Is.Null);
        Assert.That(ln.SpeedUp, Is.EqualTo(4.0).Within(1e-12));
        Assert.That(ln.FusedGBps, Is.EqualTo(1600).Within(1e-9));
        Assert.That(ln.FusedCopyPercent, Is.EqualTo(80).Within(1e-9));
        Assert.That(ln.BaselineCopyPercent, Is.EqualTo(20).Within(1e-9));

        var attn = rows[1];
        Assert.That(attn.FusedMs, Is.EqualTo(1.0).Within(1e-12));
        Assert.That(attn.BaselineMs, Is.EqualTo(3.0).Within(1e-12));
        Assert.That(attn.SpeedUp, Is.EqualTo(3.0).Within(1e-12));
        Assert.That(attn.FusedTflops, Is.EqualTo(4.0).Within(1e-9), "4e9 FLOP in 1 ms");

        Assert.That(rows[2].Error, Does.Contain("'gumbel sample unfused' failed"));
        Assert.That(rows[3].Error, Does.Contain("no case 'attention fwd bf16 mma p=0' at S"));
    }

    [Test]
    public void WritesMarkdownAndJsonWithDeviceAndDate()
    {
        var dir = TestData.TempDir();
        try
        {
            string md = CudaReport.Write(dir, Header, FakeResults(), Comparisons, 20);
            Assert.That(File.ReadAllText(Path.Combine(dir, "cuda-bench.md")), Is.EqualTo(md));
            Assert.That(md, Does.Contain("Test GPU 80GB (sm_90, 132 SMs").And.Contain("2026-11-26 17:05 UTC"));
            Assert.That(md, Does.Contain("copy ceiling 2000 GB/s"));
            Assert.That(md, Does.Contain("| layernorm bwd | [16384,256] | 0.5000 | 0.4000 | 1600 |  | 3 |"), "the input copies it rotated over");
            Assert.That(md, Does.Contain("| copy d2d | 256 MiB | 1.0000 | 0.9000 | 2000 |  | 1 |"));
            Assert.That(md, Does.Contain("| layernorm bwd vs unfused | [16384,256] | 0.5000 | 2.0000 | 4.00× | 1600 (80%) | 400 (20%) |"));
            Assert.That(md, Does.Contain("| attention fwd+bwd f32 vs cuBLAS | S | 1.0000 | 3.0000 | 3.00× |"));
            Assert.That(md, Does.Contain("| gumbel sample unfused | G | failed: CudaException: out of memory |"));

            using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "cuda-bench.json")));
            var root = json.RootElement;
            Assert.That(root.GetProperty("header").GetProperty("Device").GetString(), Is.EqualTo("Test GPU 80GB"));
            Assert.That(root.GetProperty("header").GetProperty("Date").GetDateTime(), Is.EqualTo(Header.Date));
            Assert.That(root.GetProperty("copyGBps").GetDouble(), Is.EqualTo(2000).Within(1e-9));
            Assert.That(root.GetProperty("results").GetArrayLength(), Is.EqualTo(9));
            Assert.That(root.GetProperty("results")[1].GetProperty("Copies").GetInt32(), Is.EqualTo(3));
            var cmp = root.GetProperty("comparisons");
            Assert.That(cmp.GetArrayLength(), Is.EqualTo(4));
            Assert.That(cmp[1].GetProperty("SpeedUp").GetDouble(), Is.EqualTo(3.0).Within(1e-12));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Test]
    public void WithoutADeviceTheRunWritesTheReasonAndExits2()
    {
        try
        {
            CudaDevice.Probe();
            Assert.Ignore("a CUDA device is present: the full benchmark would run");
        }
        catch (CudaUnavailableException)
        {
        }
        var dir = TestData.TempDir();
        try
        {
            Assert.That(CudaBench.Run(["--cuda", "--out", dir]), Is.EqualTo(2));
            using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "cuda-bench.json")));
            Assert.That(json.RootElement.GetProperty("error").GetString(), Does.StartWith("no CUDA device"));
            Assert.That(CudaBench.Run(["--cuda", "--bogus"]), Is.EqualTo(64), "a bad argument is refused before any device work");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
