using System.Diagnostics;
using System.Text.Json;

namespace Electra.Tests.Train;

/// <summary>
/// scripts/gpu-check.sh without a GPU: a device run is rare and short, so the script must always leave a readable
/// report — when its steps fail, and when its time budget runs out before them.
/// </summary>
public class GpuCheckScriptTests
{
    private static readonly string[] Steps = ["info", "tests", "bench", "train"];

    [Test]
    [CancelAfter(120_000)]
    public void FailingStepsAreRecordedAndTheReportIsStillWritten()
    {
        var (rc, output, report) = RunScript(budgetS: null);
        Assert.That(rc, Is.EqualTo(0), output);
        foreach (var s in Steps)
        {
            var r = report.GetProperty("steps").GetProperty(s).GetProperty("rc");
            Assert.That(r.ValueKind, Is.EqualTo(JsonValueKind.Number), s);
            Assert.That(r.GetInt32(), Is.Not.EqualTo(0), $"{s} ran on an empty application folder and cannot succeed");
        }
        Assert.That(report.GetProperty("tests").GetProperty("total").GetInt32(), Is.EqualTo(0));
        Assert.That(report.GetProperty("bench").ValueKind, Is.EqualTo(JsonValueKind.Null));
        Assert.That(output, Does.Contain("tests: 0 passed, 0 failed, 0 skipped of 0"));
    }

    [Test]
    [CancelAfter(60_000)]
    public void StepsWithoutTimeLeftAreSkippedNotCutOff()
    {
        // 15 s are reserved for the report, and a step needs at least 20 s: a 30 s budget leaves none for any step.
        var (rc, output, report) = RunScript(budgetS: 30);
        Assert.That(rc, Is.EqualTo(0), output);
        foreach (var s in Steps)
            Assert.That(report.GetProperty("steps").GetProperty(s).GetProperty("rc").GetString(), Is.EqualTo("skipped"), s);
        Assert.That(output, Does.Contain("== info: skipped"));
    }

    private static (int ExitCode, string Output, JsonElement Report) RunScript(int? budgetS)
    {
        string app = TestData.TempDir(), outDir = TestData.TempDir();
        try
        {
            var psi = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            psi.ArgumentList.Add(Path.Combine(TestData.RepoRoot, "scripts", "gpu-check.sh"));
            psi.ArgumentList.Add(outDir);
            psi.Environment["APP"] = app; // empty: every step's program is missing
            psi.Environment["ELECTRA_KERNEL_CACHE"] = Path.Combine(outDir, "kernel-cache");
            if (budgetS is int b) psi.Environment["GPU_CHECK_BUDGET_S"] = b.ToString();
            using var p = Process.Start(psi)!;
            var stdout = p.StandardOutput.ReadToEndAsync();
            var stderr = p.StandardError.ReadToEndAsync();
            if (!p.WaitForExit(100_000))
            {
                p.Kill(entireProcessTree: true);
                Assert.Fail("gpu-check.sh ran past 100 s");
            }
            string output = stdout.Result + stderr.Result;
            Assert.That(File.Exists(Path.Combine(outDir, "report.md")), output);
            using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "report.json")));
            return (p.ExitCode, output, json.RootElement.Clone());
        }
        finally
        {
            Directory.Delete(app, recursive: true);
            Directory.Delete(outDir, recursive: true);
        }
    }
}
