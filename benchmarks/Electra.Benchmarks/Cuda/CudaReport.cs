using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Electra.Benchmarks.Cuda;

/// <summary>
/// One timed case: median and min of the CUDA-event times, the bytes/FLOPs it must move, and over how many copies
/// of its inputs the runs rotated (1: not rotated).
/// </summary>
public sealed record BenchResult(string Name, string Shape, double MedianMs, double MinMs, double Bytes, double Flops, string? Error, int Copies = 1)
{
    public double GBps => Error is null && MedianMs > 0 ? Bytes / (MedianMs * 1e-3) / 1e9 : 0;
    public double Tflops => Error is null && MedianMs > 0 ? Flops / (MedianMs * 1e-3) / 1e12 : 0;
}

/// <summary>
/// A fused kernel against its baseline, each the sum of one or more timed cases (e.g. forward + backward). The
/// bytes and FLOPs are the fused cases' (the work that must be done), so both GB/s figures are effective rates.
/// </summary>
public sealed record BenchComparison(string Kernel, string Shape, IReadOnlyList<string> Fused, IReadOnlyList<string> Baseline);

/// <summary>Where and when: the device and library versions printed above the tables.</summary>
public sealed record BenchHeader(string Device, string Arch, int Sms, long MemoryMiB, int Cublas, string Nvrtc, string Allocator, DateTime Date, double Seconds);

/// <summary>The report of a CUDA benchmark run: cuda-bench.md (tables) and cuda-bench.json (every number).</summary>
public static class CudaReport
{
    public const string CopyCase = "copy d2d";

    public sealed record ComparisonRow(string Kernel, string Shape, double FusedMs, double BaselineMs, double SpeedUp,
        double FusedGBps, double BaselineGBps, double FusedCopyPercent, double BaselineCopyPercent, double FusedTflops, double BaselineTflops, string? Error);

    /// <summary>The measured device-to-device copy bandwidth (GB/s, read + write), or 0 when it was not measured.</summary>
    public static double CopyGBps(IReadOnlyList<BenchResult> results) =>
        results.FirstOrDefault(r => r.Name == CopyCase && r.Error is null)?.GBps ?? 0;

    public static IReadOnlyList<ComparisonRow> Compare(IReadOnlyList<BenchResult> results, IReadOnlyList<BenchComparison> comparisons)
    {
        double copy = CopyGBps(results);
        var rows = new List<ComparisonRow>();
        foreach (var c in comparisons)
        {
            var fused = Find(results, c.Shape, c.Fused, out var e1);
            var baseline = Find(results, c.Shape, c.Baseline, out var e2);
            string? error = e1 ?? e2;
            if (error is not null)
            {
                rows.Add(new ComparisonRow(c.Kernel, c.Shape, 0, 0, 0, 0, 0, 0, 0, 0, 0, error));
                continue;
            }
            double fMs = fused.Sum(r => r.MedianMs), bMs = baseline.Sum(r => r.MedianMs);
            double bytes = fused.Sum(r => r.Bytes), flops = fused.Sum(r => r.Flops);
            double fGB = bytes / (fMs * 1e-3) / 1e9, bGB = bytes / (bMs * 1e-3) / 1e9;
            rows.Add(new ComparisonRow(c.Kernel, c.Shape, fMs, bMs, bMs / fMs, fGB, bGB,
                copy > 0 ? 100 * fGB / copy : 0, copy > 0 ? 100 * bGB / copy : 0,
                flops / (fMs * 1e-3) / 1e12, flops / (bMs * 1e-3) / 1e12, null));
        }
        return rows;
    }

    private static List<BenchResult> Find(IReadOnlyList<BenchResult> results, string shape, IReadOnlyList<string> names, out string? error)
    {
        error = null;
        var found = new List<BenchResult>();
        foreach (var n in names)
        {
            var r = results.FirstOrDefault(x => x.Name == n && x.Shape == shape);
            if (r is null) error ??= $"no case '{n}' at {shape}";
            else if (r.Error is not null) error ??= $"'{n}' failed";
            else found.Add(r);
        }
        return found;
    }

    /// <summary>Writes cuda-bench.md and cuda-bench.json into <paramref name="outDir"/> and returns the markdown.</summary>
    public static string Write(string outDir, BenchHeader header, IReadOnlyList<BenchResult> results, IReadOnlyList<BenchComparison> comparisons, int reps)
    {
        Directory.CreateDirectory(outDir);
        var rows = Compare(results, comparisons);
        double copy = CopyGBps(results);
        var json = JsonSerializer.Serialize(new
        {
            header,
            copyGBps = copy,
            results = results.Select(r => new { r.Name, r.Shape, r.MedianMs, r.MinMs, r.Bytes, r.Flops, r.GBps, r.Tflops, r.Copies, r.Error }),
            comparisons = rows,
        }, new JsonSerializerOptions { WriteIndented = true });
        File.WriteAllText(Path.Combine(outDir, "cuda-bench.json"), json);
        string md = Markdown(header, results, rows, copy, reps);
        File.WriteAllText(Path.Combine(outDir, "cuda-bench.md"), md);
        return md;
    }

    public static string Markdown(BenchHeader header, IReadOnlyList<BenchResult> results, IReadOnlyList<ComparisonRow> rows, double copy, int reps)
    {
        var inv = CultureInfo.InvariantCulture;
        var md = new StringBuilder();
        md.AppendLine($"# CUDA kernel benchmarks — {header.Device} ({header.Arch}, {header.Sms} SMs, {header.MemoryMiB} MiB)").AppendLine();
        md.AppendLine(string.Create(inv, $"{header.Date:yyyy-MM-dd HH:mm} UTC; cuBLAS {header.Cublas}, NVRTC {header.Nvrtc}; median of {reps} CUDA-event-timed runs after warm-up; random inputs; {header.Seconds:0} s in all."));
        md.AppendLine();
        md.AppendLine("\"input copies\": the runs of a case cycle through that many copies of its inputs, enough that 2 × L2 bytes stream between two reads of one copy, so inputs come from DRAM; 1 means a single copy (inputs already ≥ 2 × L2, or compute-bound GEMMs, which are not rotated).");
        md.AppendLine();
        md.AppendLine("| case | shape | median ms | min ms | GB/s | TFLOP/s | input copies |").AppendLine("|---|---|---:|---:|---:|---:|---:|");
        foreach (var r in results)
            md.AppendLine(r.Error is null
                ? string.Create(inv, $"| {r.Name} | {r.Shape} | {r.MedianMs:0.0000} | {r.MinMs:0.0000} | {(r.Bytes > 0 ? r.GBps.ToString("0", inv) : "")} | {(r.Flops > 0 ? r.Tflops.ToString("0.0", inv) : "")} | {r.Copies} |")
                : $"| {r.Name} | {r.Shape} | failed: {Cell(r.Error)} | | | | |");
        if (rows.Count > 0)
        {
            md.AppendLine();
            md.AppendLine(string.Create(inv, $"## Fused kernels against their baselines (copy ceiling {copy:0} GB/s)"));
            md.AppendLine();
            md.AppendLine("GB/s and TFLOP/s count the work the fused kernel must do (the same bytes and FLOPs for both), so they are effective rates; % copy is of the measured device-to-device copy.");
            md.AppendLine();
            md.AppendLine("| kernel | shape | fused ms | baseline ms | speed-up | fused GB/s (% copy) | baseline GB/s (% copy) | fused TFLOP/s | baseline TFLOP/s |");
            md.AppendLine("|---|---|---:|---:|---:|---:|---:|---:|---:|");
            foreach (var c in rows)
                md.AppendLine(c.Error is null
                    ? string.Create(inv, $"| {c.Kernel} | {c.Shape} | {c.FusedMs:0.0000} | {c.BaselineMs:0.0000} | {c.SpeedUp:0.00}× | {c.FusedGBps:0} ({c.FusedCopyPercent:0}%) | {c.BaselineGBps:0} ({c.BaselineCopyPercent:0}%) | {(c.FusedTflops > 0 ? c.FusedTflops.ToString("0.0", inv) : "")} | {(c.BaselineTflops > 0 ? c.BaselineTflops.ToString("0.0", inv) : "")} |")
                    : $"| {c.Kernel} | {c.Shape} | failed: {Cell(c.Error)} | | | | | | |");
        }
        return md.ToString();
    }

    private static string Cell(string s) => s.Replace('|', '/').Replace('\n', ' ');
}
