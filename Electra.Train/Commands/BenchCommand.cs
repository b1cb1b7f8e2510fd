using System.CommandLine;
using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Electra.Model;
using Electra.Train.Benchmarking;
using Spectre.Console;

namespace Electra.Train.Commands;

/// <summary>
/// <c>electra bench train</c>: times the full pretraining step on synthetic batches (see <see cref="TrainBenchmark"/>);
/// <c>--breakdown</c> adds the median time of each phase of a step.
/// </summary>
public static class BenchCommand
{
    // Phase names hold '+', which the default encoder writes as \u002B.
    private static readonly JsonSerializerOptions JsonOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static Command Create()
    {
        var preset = new Option<string>("--preset") { Description = "tiny, small, base or large", DefaultValueFactory = _ => "small" };
        var batch = new Option<int>("--batch") { Description = "B", DefaultValueFactory = _ => 8 };
        var seq = new Option<int>("--seq") { Description = "T", DefaultValueFactory = _ => 128 };
        var steps = new Option<int>("--steps") { Description = $"Timed steps (after {TrainBenchmark.WarmupSteps} warm-up steps)", DefaultValueFactory = _ => 10 };
        var device = new Option<string>("--device") { Description = "auto, cpu, cuda or cuda:N", DefaultValueFactory = _ => "auto" };
        var precision = new Option<string?>("--precision") { Description = PrecisionChoice.Description };
        var cudaGraph = CudaGraphOption.Create(
            "on: capture the step into one CUDA graph and replay it (eager, with the reason, if capture fails); off: eager steps. Ignored on the CPU");
        var json = new Option<bool>("--json") { Description = "Print one JSON object" };
        var breakdown = new Option<bool>("--breakdown")
        {
            Description = "Then run --steps more steps with a device synchronisation after each phase, and report each phase's median time",
        };
        var train = new Command("train", "Time full pretraining steps on synthetic batches");
        foreach (var o in new Option[] { preset, batch, seq, steps, device, precision, cudaGraph, json, breakdown }) train.Options.Add(o);
        train.SetAction(parse =>
        {
            try
            {
                var (dev, note) = DeviceChoice.Resolve(parse.GetValue(device)!);
                var chosen = parse.GetValue(precision) is string p ? PrecisionNames.Parse(p) : (Precision?)null;
                bool graph = CudaGraphOption.Parse(parse.GetValue(cudaGraph)!);
                var result = TrainBenchmark.Run(ElectraConfig.Preset(parse.GetValue(preset)!), parse.GetValue(batch), parse.GetValue(seq),
                    parse.GetValue(steps), dev, parse.GetValue(breakdown), chosen, graph);
                result["device"] = note;
                result["preset"] = parse.GetValue(preset);
                if (parse.GetValue(json)) Console.WriteLine(result.ToJsonString(JsonOptions));
                else Print(result);
                return 0;
            }
            catch (Exception e) when (e is ArgumentException || CudaSupport.IsUnavailable(e))
            {
                Console.Error.WriteLine($"electra bench: {e.Message}");
                return 1;
            }
        });
        var bench = new Command("bench", "Benchmarks");
        bench.Subcommands.Add(train);
        return bench;
    }

    private static void Print(JsonObject r)
    {
        var peak = r["peak_memory_bytes"] is { } p ? $", peak {Electra.Cuda.CudaAllocator.Format(p.GetValue<long>())}" : "";
        AnsiConsole.MarkupLineInterpolated(
            $"{r["preset"]} B={r["batch"]} T={r["seq"]} on {r["device"]} ({r["precision"]}, CUDA graph {r["cuda_graph"]}): {r["step_ms_median"]} ms/step, {r["tokens_per_s"]} tokens/s{peak}");
        if (r["step_profile"] is JsonObject sp)
            AnsiConsole.MarkupLineInterpolated(
                $"one step: {sp["kernel_launches"]} kernel launches, {sp["cublas_calls"]} cuBLAS calls, {sp["device_copies"]} device copies, {sp["host_syncs"]} host syncs, {sp["driver_allocations"]} driver allocations, {sp["bytes_uploaded"]} B up / {sp["bytes_downloaded"]} B down; modelled H100 time {sp["modelled_h100_ms"]} ms (a model, not a measurement)");
        if (r["phases"] is not JsonObject phases) return;
        var all = phases.Select(kv => (Phase: kv.Key, MedianMs: kv.Value!.GetValue<double>())).ToList();
        double total = all.Sum(x => x.MedianMs);
        var table = new Table().AddColumn("phase").AddColumn(new TableColumn("median ms").RightAligned()).AddColumn(new TableColumn("share").RightAligned());
        foreach (var (phase, ms) in all)
            table.AddRow(Markup.Escape(phase), ms.ToString("0.000", CultureInfo.InvariantCulture), (ms / total).ToString("P1", CultureInfo.InvariantCulture));
        table.AddRow("sum (synchronised step)", total.ToString("0.000", CultureInfo.InvariantCulture), "");
        AnsiConsole.Write(table);
        var top = TrainBenchmark.Top(all, 5).Select(x => $"{x.Phase} {x.MedianMs.ToString("0.###", CultureInfo.InvariantCulture)} ms");
        AnsiConsole.MarkupLineInterpolated($"top five: {string.Join(", ", top)}");
        if (r["backward_ops"] is not JsonObject ops) return;
        var byOp = new Table().AddColumn("backward, by op").AddColumn(new TableColumn("median ms per step").RightAligned());
        foreach (var (op, ms) in ops)
            byOp.AddRow(Markup.Escape(op), ms!.GetValue<double>().ToString("0.000", CultureInfo.InvariantCulture));
        AnsiConsole.Write(byOp);
    }
}
