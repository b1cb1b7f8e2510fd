using System.CommandLine;
using System.Diagnostics;
using System.Text.Json.Nodes;
using Electra.Model;
using Electra.Optim;
using Spectre.Console;

namespace Electra.Train.Commands;

/// <summary>
/// <c>electra bench train</c>: times the full pretraining step (generator + discriminator forward and backward,
/// clipping, AdamW) on synthetic batches, so the number depends on the engine alone, not on data loading.
/// </summary>
public static class BenchCommand
{
    public static Command Create()
    {
        var preset = new Option<string>("--preset") { Description = "tiny, small, base or large", DefaultValueFactory = _ => "small" };
        var batch = new Option<int>("--batch") { Description = "B", DefaultValueFactory = _ => 8 };
        var seq = new Option<int>("--seq") { Description = "T", DefaultValueFactory = _ => 128 };
        var steps = new Option<int>("--steps") { Description = "Timed steps (after 2 warm-up steps)", DefaultValueFactory = _ => 10 };
        var device = new Option<string>("--device") { Description = "auto, cpu, cuda or cuda:N", DefaultValueFactory = _ => "auto" };
        var json = new Option<bool>("--json") { Description = "Print one JSON object" };
        var train = new Command("train", "Time full pretraining steps on synthetic batches");
        foreach (var o in new Option[] { preset, batch, seq, steps, device, json }) train.Options.Add(o);
        train.SetAction(parse =>
        {
            try
            {
                var (dev, note) = DeviceChoice.Resolve(parse.GetValue(device)!);
                var result = Train(ElectraConfig.Preset(parse.GetValue(preset)!), parse.GetValue(batch), parse.GetValue(seq), parse.GetValue(steps), dev);
                result["device"] = note;
                result["preset"] = parse.GetValue(preset);
                if (parse.GetValue(json)) Console.WriteLine(result.ToJsonString());
                else AnsiConsole.MarkupLineInterpolated($"{parse.GetValue(preset)} B={parse.GetValue(batch)} T={parse.GetValue(seq)} on {note}: {result["step_ms_median"]} ms/step, {result["tokens_per_s"]} tokens/s");
                return 0;
            }
            catch (ArgumentException e)
            {
                AnsiConsole.MarkupLineInterpolated($"[red]bench: {e.Message}[/]");
                return 1;
            }
        });
        var bench = new Command("bench", "Benchmarks");
        bench.Subcommands.Add(train);
        return bench;
    }

    public static JsonObject Train(ElectraConfig config, int b, int t, int steps, Device device)
    {
        if (b < 1 || t < 8 || steps < 1) throw new ArgumentException("--batch ≥ 1, --seq ≥ 8 and --steps ≥ 1 are required");
        if (t > config.MaxPositionEmbeddings) throw new ArgumentException($"--seq {t} exceeds max_position_embeddings {config.MaxPositionEmbeddings}");
        using var model = new Pretrainer(config, null, new PretrainOptions(), device);
        using var opt = new AdamW(AdamW.DefaultGroups(model.NamedParameters()));
        var rng = new Random(1);
        var ids = new int[b * t];
        for (int i = 0; i < ids.Length; i++) ids[i] = i % t == 0 ? 101 : i % t == t - 1 ? 102 : 1000 + rng.Next(20000);
        var batch = new TokenBatch(ids, new int[b * t], Enumerable.Repeat(1, b * t).ToArray(), b, t);
        var times = new List<double>();
        for (int step = 0; step < steps + 2; step++)
        {
            var clock = Stopwatch.StartNew();
            using (new TensorScope())
            {
                var (loss, _) = model.Forward(batch, step, computeMetrics: false);
                loss.Backward();
                GradClip.ClipGlobalNorm(opt.Params, 1f);
                opt.Step(1e-4f);
                model.ZeroGrad();
                loss.Backend.Synchronize();
            }
            if (step >= 2) times.Add(clock.Elapsed.TotalMilliseconds);
        }
        times.Sort();
        double median = times[times.Count / 2];
        return new JsonObject
        {
            ["tokens_per_s"] = Math.Round(b * t / (median / 1000.0), 1),
            ["step_ms_median"] = Math.Round(median, 3),
            ["step_ms_min"] = Math.Round(times[0], 3),
            ["batch"] = b,
            ["seq"] = t,
            ["steps"] = steps,
        };
    }
}
