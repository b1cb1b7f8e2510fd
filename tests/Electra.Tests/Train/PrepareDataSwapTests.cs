using System.CommandLine;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using Electra.Train.Commands;
using Electra.Train.Data;
using Spectre.Console;

namespace Electra.Tests.Train;

/// <summary>
/// prepare-data over an existing shard folder, at the command line: the new shards are written beside it and swapped
/// in whole, so an interruption or a failure leaves every old file byte for byte, and a folder holding anything
/// else is refused rather than replaced.
/// </summary>
public partial class PrepareDataSwapTests
{
    private string _dir = "", _out = "";

    [SetUp]
    public void SetUp()
    {
        _dir = Directory.CreateTempSubdirectory("electra-swap-").FullName;
        _out = Path.Combine(_dir, "shards");
    }

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    private string Corpus(string name, int sentences, int seed)
    {
        string[] words = ["the", "cat", "sat", "on", "a", "mat", "dog", "ran", "home", "big", "red", "house", "$5", "10%"];
        var random = new Random(seed);
        var text = new StringBuilder();
        for (int i = 0; i < sentences; i++)
        {
            for (int w = random.Next(3, 12); w > 0; w--) text.Append(words[random.Next(words.Length)]).Append(' ');
            text.Append(i % 40 == 39 ? ".\n\n" : ". ");
        }
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, text.ToString(), new UTF8Encoding(false));
        return path;
    }

    private static (int Code, string Output) Cli(params string[] args)
    {
        var root = new RootCommand();
        foreach (var c in CommandList.All()) root.Subcommands.Add(c);
        var output = new StringWriter();
        var saved = AnsiConsole.Console;
        try
        {
            AnsiConsole.Console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(output), Ansi = AnsiSupport.No, Interactive = InteractionSupport.No });
            AnsiConsole.Console.Profile.Width = 400;
            return (root.Parse(args).Invoke(), output.ToString());
        }
        finally
        {
            AnsiConsole.Console = saved;
        }
    }

    /// <summary>Every file under <paramref name="dir"/> with its bytes, by relative path.</summary>
    private static SortedDictionary<string, byte[]> Snapshot(string dir) =>
        new(Directory.GetFiles(dir, "*", SearchOption.AllDirectories)
            .ToDictionary(f => Path.GetRelativePath(dir, f), File.ReadAllBytes), StringComparer.Ordinal);

    private static void AssertSame(SortedDictionary<string, byte[]> before, string dir)
    {
        var after = Snapshot(dir);
        Assert.That(after.Keys, Is.EqualTo(before.Keys), "the same files");
        foreach (var (name, bytes) in before) Assert.That(after[name], Is.EqualTo(bytes), name);
    }

    private string[] StagingFolders() => Directory.GetDirectories(_dir, ".shards.tmp-*");

    private SortedDictionary<string, byte[]> PrepareFirst()
    {
        var (code, output) = Cli("prepare-data", "--input", Corpus("first.txt", 400, 1), "--out", _out, "--seq", "32", "--shard-size", "5");
        Assert.That(code, Is.Zero, output);
        Assert.That(output, Does.Contain($"wrote {Path.Combine(_out, ShardManifest.FileName)}").And.Not.Contain("replacing"));
        return Snapshot(_out);
    }

    [Test]
    public void RepreparingReplacesTheFolderWholeAndSaysSo()
    {
        var first = PrepareFirst();
        Assert.That(first.Keys.Count(k => k.StartsWith("shard-")), Is.GreaterThan(10));
        var (code, output) = Cli("prepare-data", "--input", Corpus("second.txt", 100, 2), "--out", _out + "/", "--seq", "32", "--shard-size", "1000", "--seed", "4");
        Assert.That(code, Is.Zero, output);
        Assert.That(output, Does.Contain("replacing the folder's previous shards"));
        var manifest = ShardManifest.Load(_out);
        Assert.That(manifest.Seed, Is.EqualTo(4UL));
        Assert.That(Directory.GetFiles(_out).Select(Path.GetFileName).Order(), Is.EqualTo(new[] { "manifest.json", "shard-00000.bin" }),
            "none of the first preparation's shards is left");
        Assert.That(StagingFolders(), Is.Empty);
        using var data = ShardDataset.Open(_out, WordPieceTokenizer.Load());
        Assert.That(data.Count, Is.EqualTo(manifest.Examples));
    }

    [Test]
    public void ALinkedFolderIsReplacedWhereItsDataLives()
    {
        var real = Path.Combine(_dir, "elsewhere", "shards");
        Directory.CreateDirectory(Path.GetDirectoryName(real)!);
        var (code, output) = Cli("prepare-data", "--input", Corpus("first.txt", 100, 1), "--out", real, "--seq", "32");
        Assert.That(code, Is.Zero, output);
        Directory.CreateSymbolicLink(_out, real);
        (code, output) = Cli("prepare-data", "--input", Corpus("second.txt", 100, 2), "--out", _out, "--seq", "32", "--seed", "5");
        Assert.That(code, Is.Zero, output);
        Assert.That(new DirectoryInfo(_out).LinkTarget, Is.EqualTo(real), "the link stays a link");
        Assert.That(ShardManifest.Load(real).Seed, Is.EqualTo(5UL));
        Assert.That(Directory.GetDirectories(Path.GetDirectoryName(real)!), Is.EqualTo(new[] { real }), "no staging left beside the data");
    }

    [Test]
    public void AFailedPreparationLeavesTheOldFolderByteForByte()
    {
        var before = PrepareFirst();
        var blank = Path.Combine(_dir, "blank.txt");
        File.WriteAllText(blank, "\n \n\t\n");
        var (code, output) = Cli("prepare-data", "--input", blank, "--out", _out, "--seq", "32");
        Assert.That(code, Is.EqualTo(1));
        Assert.That(output, Does.Contain("prepare-data: --input: the 1 file(s) hold no text"));
        AssertSame(before, _out);
        Assert.That(StagingFolders(), Is.Empty, "the partial output is removed");
    }

    [Test]
    public void AFolderHoldingOtherFilesIsRefusedAndKept()
    {
        Directory.CreateDirectory(_out);
        File.WriteAllText(Path.Combine(_out, "notes.txt"), "mine");
        var corpus = Corpus("c.txt", 50, 1);
        var (code, output) = Cli("prepare-data", "--input", corpus, "--out", _out, "--seq", "32");
        Assert.That(code, Is.EqualTo(1));
        Assert.That(output, Does.Contain($"prepare-data: --out {_out}: holds notes.txt, which prepare-data did not write"));
        Assert.That(Directory.GetFileSystemEntries(_out).Select(Path.GetFileName), Is.EqualTo(new[] { "notes.txt" }));

        // A prepared folder where someone added a README: the README would go with the old shards, so no.
        File.Delete(Path.Combine(_out, "notes.txt"));
        var before = PrepareFirst();
        File.WriteAllText(Path.Combine(_out, "README.md"), "how I made these shards");
        before["README.md"] = File.ReadAllBytes(Path.Combine(_out, "README.md"));
        (code, output) = Cli("prepare-data", "--input", corpus, "--out", _out, "--seq", "32");
        Assert.That(code, Is.EqualTo(1));
        Assert.That(output, Does.Contain("holds README.md, which prepare-data did not write"));
        AssertSame(before, _out);

        var file = Path.Combine(_dir, "a-file");
        File.WriteAllText(file, "x");
        (code, output) = Cli("prepare-data", "--input", corpus, "--out", file, "--seq", "32");
        Assert.That(code, Is.EqualTo(1));
        Assert.That(output, Does.Contain($"prepare-data: --out {file}: is a file, expected a folder"));
        Assert.That(File.ReadAllText(file), Is.EqualTo("x"));
    }

    [Test]
    public void StagingFoldersOfRunsThatDiedAreRemovedAndLiveOnesKept()
    {
        int dead = ExitedPid();
        using var live = Process.Start(new ProcessStartInfo("sleep", "60") { UseShellExecute = false })!;
        try
        {
            var deadStaging = Path.Combine(_dir, $".shards.tmp-{dead}");
            var liveStaging = Path.Combine(_dir, $".shards.tmp-{live.Id}");
            foreach (var d in new[] { deadStaging, liveStaging })
            {
                Directory.CreateDirectory(d);
                File.WriteAllText(Path.Combine(d, "shard-00000.bin.tmp"), "partial");
            }
            PrepareFirst();
            Assert.That(Directory.Exists(deadStaging), Is.False, $"pid {dead} has exited");
            Assert.That(Directory.Exists(liveStaging), Is.True, "a running preparation's folder is its own");
        }
        finally
        {
            live.Kill();
        }
    }

    private static int ExitedPid()
    {
        using var p = Process.Start(new ProcessStartInfo("true") { UseShellExecute = false })!;
        p.WaitForExit();
        return p.Id;
    }

    /// <summary>
    /// The real Ctrl-C path: electra.dll in its own process gets SIGINT once its first new shard exists; it exits with
    /// 130 saying the folder is unchanged, and it is.
    /// </summary>
    [Test]
    [CancelAfter(120_000)]
    public void CtrlCDuringPreparationLeavesTheOldFolderByteForByte()
    {
        var before = PrepareFirst();
        var big = Corpus("big.txt", 150_000, 3);
        var psi = new ProcessStartInfo(DotnetHost()) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { Path.Combine(AppContext.BaseDirectory, "electra.dll"), "prepare-data", "--input", big, "--out", _out,
                     "--seq", "32", "--shard-size", "50", "--seed", "9" })
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        var firstNewShard = Path.Combine(_dir, $".shards.tmp-{p.Id}", "shard-00000.bin");
        var clock = Stopwatch.StartNew();
        while (!File.Exists(firstNewShard) && !p.HasExited && clock.Elapsed < TimeSpan.FromSeconds(60)) Thread.Sleep(5);
        if (p.HasExited) Assert.Fail("the run finished before it could be interrupted: " + stdout.Result + stderr.Result);
        Assert.That(Kill(p.Id, SigInt), Is.Zero, $"kill({p.Id}, SIGINT): errno {Marshal.GetLastPInvokeError()}");
        Assert.That(p.WaitForExit(60_000), Is.True, "exits after Ctrl-C");
        string output = stdout.Result + stderr.Result;
        Assert.That(p.ExitCode, Is.EqualTo(130), output);
        Assert.That(output.ReplaceLineEndings(" "), Does.Contain("interrupted;").And.Contain("is unchanged"));
        AssertSame(before, _out);
        Assert.That(StagingFolders(), Is.Empty, "the partial output is removed");
    }

    private const int SigInt = 2;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);

    private static string DotnetHost()
    {
        var fromSdk = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        if (!string.IsNullOrEmpty(fromSdk) && File.Exists(fromSdk)) return fromSdk;
        var self = Environment.ProcessPath;
        return self is not null && Path.GetFileNameWithoutExtension(self) == "dotnet" ? self : "dotnet";
    }
}
