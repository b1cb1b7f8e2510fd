using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using Electra.Model;
using Electra.Train.Data;
using Electra.Train.Pretraining;
using Electra.Train.Runs;

namespace Electra.Tests.Train;

/// <summary>
/// `electra pretrain` as a separate process that is killed: with SIGKILL in the middle of writing a checkpoint (the
/// resumed run must end on the same checkpoint as a run never interrupted), and with SIGTERM, which must save like
/// Ctrl-C. Tiny shapes, so each run takes a few seconds.
/// </summary>
[NonParallelizable]
public partial class KilledRunTests
{
    private const int SigKill = 9, SigTerm = 15, SigCont = 18, SigStop = 19;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int SendSignal(int pid, int signal);

    private string _dir = "", _shards = "", _micro = "", _microGen = "";

    [OneTimeSetUp]
    public void Prepare()
    {
        if (!OperatingSystem.IsLinux()) Assert.Ignore("sends POSIX signals to a child process");
        _dir = TestData.TempDir();
        _shards = MicroRun.Shards(_dir, "shards", WordPieceTokenizer.Load(), corpusSeed: 5);
        (_micro, _microGen) = MicroRun.SaveConfigs(_dir);
    }

    [OneTimeTearDown]
    public void Clean()
    {
        try { if (_dir.Length > 0) Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    private string[] Pretrain(string outDir, int steps) =>
    [
        "pretrain", "--config", _micro, "--generator-config", _microGen, "--data", _shards, "--seq", "32", "--batch", "4",
        "--steps", steps.ToString(), "--save-every", "1", "--log-every", "1", "--lr", "0.001", "--warmup", "2", "--seed", "7",
        "--device", "cpu", "--out", outDir,
    ];

    private static Process Start(string[] args)
    {
        var psi = new ProcessStartInfo(DotnetHost()) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "electra.dll"));
        foreach (var a in args) psi.ArgumentList.Add(a);
        return Process.Start(psi)!;
    }

    private static (int Code, string Output) RunToEnd(string[] args, int timeoutS = 120)
    {
        using var p = Start(args);
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeoutS * 1000))
        {
            p.Kill(entireProcessTree: true);
            Assert.Fail($"electra {string.Join(' ', args)} ran past {timeoutS} s");
        }
        return (p.ExitCode, stdout.Result + stderr.Result);
    }

    /// <summary>The dotnet host running these tests, which runs electra.dll too.</summary>
    private static string DotnetHost()
    {
        var fromSdk = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        if (!string.IsNullOrEmpty(fromSdk) && File.Exists(fromSdk)) return fromSdk;
        var self = Environment.ProcessPath;
        return self is not null && Path.GetFileNameWithoutExtension(self) == "dotnet" ? self : "dotnet";
    }

    [Test]
    [CancelAfter(300_000)]
    public void KilledDuringACheckpointWriteResumesToTheSameFinalCheckpoint()
    {
        const int steps = 10;
        var straight = Path.Combine(_dir, "straight");
        var (code, output) = RunToEnd(Pretrain(straight, steps));
        Assert.That(code, Is.Zero, output);

        // Each checkpoint is staged in .checkpoint.tmp-PID. When one appears the child is stopped at once; if the
        // staging folder still exists, the child is inside a checkpoint write (or between its renames) and is killed
        // there, else it is let go until the next save.
        var killed = Path.Combine(_dir, "killed");
        Directory.CreateDirectory(killed);
        using var watcher = new FileSystemWatcher(killed) { NotifyFilter = NotifyFilters.DirectoryName, Filter = ".checkpoint.tmp-*" };
        var gate = new object();
        int seen = 0;
        string? killedIn = null;
        using var child = Start(Pretrain(killed, steps));
        var childOut = child.StandardOutput.ReadToEndAsync();
        var childErr = child.StandardError.ReadToEndAsync();
        watcher.Created += (_, e) =>
        {
            lock (gate)
            {
                if (killedIn is not null || ++seen < 3) return;     // the first saves pass: something to resume from
                SendSignal(child.Id, SigStop);
                if (Directory.Exists(e.FullPath))
                {
                    SendSignal(child.Id, SigKill);
                    killedIn = e.FullPath;
                }
                else SendSignal(child.Id, SigCont);
            }
        };
        watcher.EnableRaisingEvents = true;
        Assert.That(child.WaitForExit(120_000), Is.True, "the child finished or was killed");
        watcher.EnableRaisingEvents = false;
        lock (gate)
        {
            if (killedIn is null)
                Assert.Inconclusive($"no checkpoint write was caught in progress in {seen} saves (exit {child.ExitCode}): the machine was too slow to stop the child in time");
        }
        Assert.That(child.ExitCode, Is.EqualTo(128 + SigKill), childOut.Result + childErr.Result);
        Assert.That(Directory.Exists(killedIn), Is.True, "the half-written checkpoint is left behind");
        Assert.That(File.Exists(Path.Combine(killed, RunLock.FileName)), Is.True, "and the dead run's lock");
        var stepAtKill = PretrainCheckpoint.ReadState(Path.Combine(killed, "checkpoint")).Step;
        Assert.That(stepAtKill, Is.InRange(2L, steps - 1L), "a complete earlier checkpoint remains");

        (code, output) = RunToEnd(["pretrain", "--resume", killed, "--device", "cpu"]);
        Assert.That(code, Is.Zero, output);
        Assert.That(output, Does.Contain($"removed {killedIn}, left by a save that did not finish"));
        Assert.That(output, Does.Contain($"replaced the stale lock {Path.Combine(killed, RunLock.FileName)}"));
        Assert.That(Directory.GetFileSystemEntries(killed).Select(Path.GetFileName), Is.EquivalentTo(new[] { "checkpoint", "metrics.jsonl" }));

        var a = Path.Combine(straight, "checkpoint");
        var b = Path.Combine(killed, "checkpoint");
        var files = Directory.GetFiles(a, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(a, f)).Order().ToList();
        Assert.That(Directory.GetFiles(b, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(b, f)).Order(), Is.EqualTo(files));
        foreach (var file in files.Where(f => !f.EndsWith("state.json", StringComparison.Ordinal)))
            Assert.That(File.ReadAllBytes(Path.Combine(b, file)), Is.EqualTo(File.ReadAllBytes(Path.Combine(a, file))), $"{file} after kill -9 at step {stepAtKill} and resume");
        static string WithoutOutDir(string path) => Regex.Replace(File.ReadAllText(Path.Combine(path, "trainer", "state.json")), "\"out_dir\": \"[^\"]*\"", "");
        Assert.That(WithoutOutDir(b), Is.EqualTo(WithoutOutDir(a)));
        static List<string> Metrics(string run) =>
            File.ReadAllLines(Path.Combine(run, "metrics.jsonl")).Select(l => Regex.Replace(l, "\"tokens_per_s\":[^,}]*", "")).ToList();
        Assert.That(Metrics(killed), Is.EqualTo(Metrics(straight)));
        TestContext.Out.WriteLine($"killed during the checkpoint write after step {stepAtKill + 1} (save {seen}); resumed from step {stepAtKill}");
    }

    [Test]
    [CancelAfter(300_000)]
    public void SigtermSavesACheckpointLikeCtrlC()
    {
        var run = Path.Combine(_dir, "terminated");
        var args = Pretrain(run, 500);
        args[Array.IndexOf(args, "--save-every") + 1] = "1000";
        using var child = Start(args);
        var lines = new List<string>();
        var stderr = child.StandardError.ReadToEndAsync();
        bool sent = false;
        while (child.StandardOutput.ReadLine() is { } line)
        {
            lines.Add(line);
            if (!sent && line.StartsWith("step      2/", StringComparison.Ordinal))
            {
                SendSignal(child.Id, SigTerm);
                sent = true;
            }
        }
        Assert.That(child.WaitForExit(120_000), Is.True);
        var output = string.Join('\n', lines) + stderr.Result;
        Assert.That(sent, Is.True, output);
        Assert.That(child.ExitCode, Is.EqualTo(128 + SigTerm), output);
        var m = Regex.Match(output, @"interrupted \(SIGTERM\) at step (\d+): checkpoint saved to (\S+); continue with --resume");
        Assert.That(m.Success, Is.True, output);
        long step = long.Parse(m.Groups[1].Value);
        Assert.That(step, Is.InRange(3L, 499L));
        Assert.That(PretrainCheckpoint.ReadState(Path.Combine(run, "checkpoint")).Step, Is.EqualTo(step), "saved at the step it stopped");
        Assert.That(File.Exists(Path.Combine(run, RunLock.FileName)), Is.False, "the lock is released");
    }
}
