using System.Text.RegularExpressions;
using Electra.Cuda;
using Electra.Cuda.Compile;

namespace Electra.Tests.Cuda;

/// <summary>
/// Every kernel source compiles with the system NVRTC to CUBIN, and ptxas reports what a simulator cannot see: no
/// register spills, and static shared memory within the 48 KiB a block gets without opting in. Needs no GPU.
/// </summary>
[Category("Nvrtc")]
public partial class NvrtcTests
{
    private static void RequireNvrtc()
    {
        if (!NvrtcCompiler.IsAvailable(out var reason)) Assert.Ignore(reason);
    }

    public static IEnumerable<TestCaseData> SourcesAndArchs() =>
        from name in KernelSources.Names
        from arch in new[] { 80, 90 }
        select new TestCaseData(name, arch).SetName($"Compiles_{name}_sm{arch}");

    [TestCaseSource(nameof(SourcesAndArchs))]
    public void CompilesToCubinWithoutSpills(string source, int arch)
    {
        RequireNvrtc();
        var compiled = NvrtcCompiler.Compile(source, arch, ["--ptxas-options=-v"]);
        Assert.That(compiled.IsCubin, Is.True, $"NVRTC {NvrtcCompiler.Version} cannot emit sm_{arch} CUBIN");
        Assert.That(compiled.Target, Is.EqualTo($"sm_{arch}"));
        Assert.That(compiled.Image.AsSpan(0, 4).ToArray(), Is.EqualTo(new byte[] { 0x7F, (byte)'E', (byte)'L', (byte)'F' }), "a CUBIN is an ELF file");

        var report = PtxasReport.Parse(compiled.Log);
        Assert.That(report.Functions, Is.Not.Empty, $"no ptxas report in the log of {source}:\n{compiled.Log}");
        Assert.Multiple(() =>
        {
            foreach (var f in report.Functions)
            {
                Assert.That(f.SpillStores, Is.Zero, $"{source} sm_{arch}: {f.Name} spills {f.SpillStores} bytes of stores");
                Assert.That(f.SpillLoads, Is.Zero, $"{source} sm_{arch}: {f.Name} spills {f.SpillLoads} bytes of loads");
                Assert.That(f.SharedBytes, Is.LessThanOrEqualTo(StaticSharedLimit),
                    $"{source} sm_{arch}: {f.Name} declares {f.SharedBytes} bytes of static shared memory");
            }
        });
        // A source that declares __shared__ arrays must show them in the report, or the limit above checks nothing.
        if (KernelSources.Read(source).Contains("__shared__"))
            Assert.That(report.Functions.Max(f => f.SharedBytes), Is.GreaterThan(0), $"{source} sm_{arch}: no smem in the ptxas report");
        TestContext.Out.WriteLine(string.Join("\n", report.Functions.Select(f => $"{f.Name}: {f.Registers} registers, {f.SharedBytes} B smem, stack {f.StackFrame}")));
    }

    /// <summary>Static shared memory a block may declare: more needs dynamic shared memory and an opt-in.</summary>
    private const int StaticSharedLimit = 48 * 1024;

    [Test]
    public void PtxasReportReadsRegistersSharedMemoryAndSpills()
    {
        const string log = """
            ptxas info    : Compiling entry function 'a' for 'sm_90'
            ptxas info    : Function properties for a
            ptxas         .     8 bytes stack frame, 4 bytes spill stores, 12 bytes spill loads
            ptxas info    : Used 40 registers, 33280 bytes smem, 400 bytes cmem[0]
            ptxas info    : Function properties for b
            ptxas         .     0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
            ptxas info    : Used 16 registers
            """;
        var f = PtxasReport.Parse(log).Functions;
        Assert.That(f, Is.EqualTo(new[] { new PtxasReport.Function("a", 40, 8, 4, 12, 33280), new PtxasReport.Function("b", 16, 0, 0, 0, 0) }));
    }

    [Test]
    public void EveryExpectedSourceIsEmbedded()
    {
        Assert.That(KernelSources.Names, Does.Contain("elementwise.cu").And.Contain("random.cu"));
        Assert.That(KernelSources.Read("common.cuh"), Does.Contain("philox_block"));
    }

    [Test]
    public void SyntaxErrorReportsFileAndLine()
    {
        RequireNvrtc();
        const string source = "#include \"common.cuh\"\nextern \"C\" __global__ void broken(float* x)\n{\n    x[0] = ;\n}\n";
        var ex = Assert.Throws<NvrtcCompileException>(() =>
            NvrtcCompiler.CompileSource("kernels-cu/broken.cu", source, KernelSources.Headers, 90));
        Assert.That(ex!.Message, Does.Contain("kernels-cu/broken.cu(4)"));
        Assert.That(ex.Message, Does.Contain("error"));
    }

    [Test]
    public void CacheKeyChangesWithEveryInput()
    {
        var headers = new Dictionary<string, string> { ["common.cuh"] = "a" };
        string k = KernelCache.Key("src", headers, ["-x"], (11, 8), 90);
        Assert.That(KernelCache.Key("src", headers, ["-x"], (11, 8), 90), Is.EqualTo(k));
        Assert.That(KernelCache.Key("src2", headers, ["-x"], (11, 8), 90), Is.Not.EqualTo(k));
        Assert.That(KernelCache.Key("src", new Dictionary<string, string> { ["common.cuh"] = "b" }, ["-x"], (11, 8), 90), Is.Not.EqualTo(k));
        Assert.That(KernelCache.Key("src", headers, ["-y"], (11, 8), 90), Is.Not.EqualTo(k));
        Assert.That(KernelCache.Key("src", headers, ["-x"], (12, 0), 90), Is.Not.EqualTo(k));
        Assert.That(KernelCache.Key("src", headers, ["-x"], (11, 8), 80), Is.Not.EqualTo(k));
    }

    [Test]
    public void CacheStoresThenReusesTheImage()
    {
        RequireNvrtc();
        var dir = TestData.TempDir();
        try
        {
            var cache = new KernelCache(dir);
            var first = cache.GetOrCompile("random.cu", 80);
            Assert.That(cache.Entries(), Has.Count.EqualTo(1));
            var second = cache.GetOrCompile("random.cu", 80);
            Assert.That(second.Log, Is.EqualTo("(from cache)"));
            Assert.That(second.Image, Is.EqualTo(first.Image));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}

/// <summary>The per-function lines of ptxas' -v report.</summary>
public sealed partial record PtxasReport(IReadOnlyList<PtxasReport.Function> Functions)
{
    public sealed record Function(string Name, int Registers, int StackFrame, int SpillStores, int SpillLoads, int SharedBytes);

    // ptxas info    : Function properties for add_bias
    // ptxas         .     0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
    // ptxas info    : Used 10 registers, 388 bytes cmem[0]
    // ("Used 18 registers, 256 bytes smem, ..." when the function declares static shared memory)
    [GeneratedRegex(@"Function properties for (\S+)")]
    private static partial Regex Header();

    [GeneratedRegex(@"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads")]
    private static partial Regex Frame();

    [GeneratedRegex(@"Used (\d+) registers(?:, (\d+) bytes smem)?")]
    private static partial Regex Used();

    public static PtxasReport Parse(string log)
    {
        var functions = new List<Function>();
        Function? current = null;
        foreach (var line in log.Split('\n'))
        {
            if (Header().Match(line) is { Success: true } h)
            {
                if (current is not null) functions.Add(current);
                current = new Function(h.Groups[1].Value, -1, -1, -1, -1, 0);
            }
            else if (current is not null && Frame().Match(line) is { Success: true } f)
            {
                current = current with { StackFrame = int.Parse(f.Groups[1].Value), SpillStores = int.Parse(f.Groups[2].Value), SpillLoads = int.Parse(f.Groups[3].Value) };
            }
            else if (current is not null && Used().Match(line) is { Success: true } u)
            {
                current = current with
                {
                    Registers = int.Parse(u.Groups[1].Value),
                    SharedBytes = u.Groups[2].Success ? int.Parse(u.Groups[2].Value) : 0,
                };
            }
        }
        if (current is not null) functions.Add(current);
        // A function whose frame line never came would pass the spill check with -1: count it as a parse failure.
        if (functions.Any(f => f.SpillStores < 0)) throw new FormatException("ptxas report without a stack-frame line:\n" + log);
        return new PtxasReport(functions);
    }
}
