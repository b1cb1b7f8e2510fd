using System.Diagnostics;
using System.Text.Json.Nodes;

namespace Electra.Tests.Train;

/// <summary>
/// benchmarks/compare-pytorch.py's CPU mode as a correctness check: the PyTorch RTD step (plain-torch model, as
/// transformers is absent here) and our <c>electra bench train</c>, run by the script, both start at the loss of an
/// untrained model, and the table's arithmetic holds. Needs Debian's /usr/bin/python3 with torch.
/// </summary>
public class ComparePyTorchScriptTests
{
    private const string Python = "/usr/bin/python3";

    [Test]
    [CancelAfter(120_000)]
    public void CpuModeRunsBothImplementationsAndWritesConsistentJson()
    {
        if (!File.Exists(Python)) Assert.Ignore($"{Python} is absent (apt-get install python3-torch)");
        var (probe, probeOut) = Run(Python, ["-c", "import torch"], 60);
        if (probe != 0) Assert.Ignore($"{Python} has no torch (apt-get install python3-torch): {probeOut.Trim().Split('\n')[^1]}");

        string dir = TestData.TempDir();
        try
        {
            string script = Path.Combine(TestData.RepoRoot, "benchmarks", "compare-pytorch.py");
            string app = Path.Combine(AppContext.BaseDirectory, "electra.dll");
            var (rc, output) = Run(Python,
                [script, "--device", "cpu", "--preset", "tiny", "--batch", "2", "--seq", "32", "--steps", "3", "--warmup-steps", "1",
                 "--app", app, "--dotnet", DotnetHost(), "--out", dir], 110);
            Assert.That(rc, Is.EqualTo(0), output);

            var json = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "compare-pytorch.json")))!.AsObject();
            var rows = json["rows"]!.AsArray().Select(r => r!.AsObject()).ToList();
            Assert.That(rows, Has.Count.EqualTo(2), output);
            var (torch, ours) = (rows[0], rows[1]);
            Assert.That(torch.ContainsKey("error"), Is.False, torch.ToJsonString());
            Assert.That(ours.ContainsKey("error"), Is.False, ours.ToJsonString());
            Assert.That(torch["implementation"]!.GetValue<string>(), Is.EqualTo("pytorch"));
            Assert.That(torch["precision"]!.GetValue<string>(), Is.EqualTo("fp32"));
            Assert.That(ours["implementation"]!.GetValue<string>(), Is.EqualTo("electra (ours)"));

            // An untrained model: uniform generator over BERT's vocabulary, discriminator at 0.5.
            double atInit = Math.Log(30522) + 50 * Math.Log(2);
            foreach (var r in new[] { torch, ours })
            {
                string who = r["implementation"]!.GetValue<string>();
                Assert.That(r["loss_first"]!.GetValue<double>(), Is.EqualTo(atInit).Within(1.0), who);
                Assert.That(double.IsFinite(r["loss_last"]!.GetValue<double>()), Is.True, who);
                double tps = r["tokens_per_s"]!.GetValue<double>(), ms = r["step_ms_median"]!.GetValue<double>();
                Assert.That(tps, Is.GreaterThan(0), who);
                Assert.That(tps, Is.EqualTo(2 * 32 / (ms / 1000)).Within(tps * 1e-3), who);
                Assert.That(r["mfu"]!.GetValue<double>(),
                    Is.EqualTo(tps * json["flops_per_token"]!.GetValue<double>() / (json["peak_tflops"]!.GetValue<double>() * 1e12)).Within(1e-12), who);
            }
            Assert.That(json["flops_per_token"]!.GetValue<double>(), Is.EqualTo(3 * json["forward_flops_per_token"]!.GetValue<double>()));
            Assert.That(json["flops_per_token"]!.GetValue<double>(), Is.EqualTo(TinyTrainingFlopsPerToken(32)).Within(1.0));
            Assert.That(json["ours_over_pytorch_eager"]!.GetValue<double>(),
                Is.EqualTo(ours["tokens_per_s"]!.GetValue<double>() / torch["tokens_per_s"]!.GetValue<double>()).Within(1e-9));
            Assert.That(json["pytorch_model"]!.GetValue<string>(), Does.StartWith("plain torch").Or.StartWith("hf-transformers"));

            string md = File.ReadAllText(Path.Combine(dir, "compare-pytorch.md"));
            Assert.That(md, Does.Contain("| implementation | mode | precision | tokens/s | step ms | peak memory | MFU | × PyTorch eager |"));
            Assert.That(md, Does.Contain("| electra (ours) | eager | fp32 |"));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>
    /// The Tiny preset's training FLOPs per token, counted independently of the script: 3 × forward, forward =
    /// per layer 2(4H² + 2HI) GEMMs + 4TH attention, the E→H projections, the generator head at the masked share
    /// of rows, and the discriminator head.
    /// </summary>
    private static double TinyTrainingFlopsPerToken(int t)
    {
        var disc = Electra.Model.ElectraConfig.Tiny;
        var gen = disc.Generator();
        double Encoder(Electra.Model.ElectraConfig c) =>
            c.NumHiddenLayers * (2.0 * (4 * c.HiddenSize * c.HiddenSize + 2 * c.HiddenSize * c.IntermediateSize) + 4.0 * t * c.HiddenSize)
            + (c.EmbeddingSize != c.HiddenSize ? 2.0 * c.EmbeddingSize * c.HiddenSize : 0);
        double masked = Electra.Model.Masking.DefaultMaxPredictions(t) / (double)t;
        double genHead = masked * (2.0 * gen.HiddenSize * gen.EmbeddingSize + 2.0 * gen.EmbeddingSize * gen.VocabSize);
        double discHead = 2.0 * disc.HiddenSize * disc.HiddenSize + 2.0 * disc.HiddenSize;
        return 3 * (Encoder(disc) + Encoder(gen) + genHead + discHead);
    }

    /// <summary>The dotnet host running these tests (the script starts electra.dll with it).</summary>
    private static string DotnetHost()
    {
        var fromSdk = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        if (!string.IsNullOrEmpty(fromSdk) && File.Exists(fromSdk)) return fromSdk;
        var self = Environment.ProcessPath;
        return self is not null && Path.GetFileNameWithoutExtension(self) == "dotnet" ? self : "dotnet";
    }

    private static (int ExitCode, string Output) Run(string file, string[] args, int timeoutS)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeoutS * 1000))
        {
            p.Kill(entireProcessTree: true);
            Assert.Fail($"{file} {string.Join(' ', args)} ran past {timeoutS} s");
        }
        return (p.ExitCode, stdout.Result + stderr.Result);
    }
}
