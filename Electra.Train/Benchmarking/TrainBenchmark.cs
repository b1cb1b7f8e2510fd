using System.Diagnostics;
using System.Text.Json.Nodes;
using Electra.Train.Reporting;
using Electra.Cuda;
using Electra.Model;
using Electra.Optim;

namespace Electra.Train.Benchmarking;

/// <summary>
/// Times the full pretraining step (generator + discriminator forward and backward, clipping, AdamW) on one
/// synthetic batch, so the number depends on the engine alone, not on data loading. The batch, the learning rate
/// (ELECTRA-Small's schedule, 10,000 steps in) and the masking match benchmarks/compare-pytorch.py's.
/// </summary>
public static class TrainBenchmark
{
    public const int WarmupSteps = 2;
    public const string Backward = "backward";
    public const string Clipping = "clipping";
    public const string Optimizer = "optimizer";
    public const string ZeroGradAndFree = "zero-grad+free";

    /// <summary>
    /// Times <paramref name="steps"/> steps after the warm-up; <paramref name="precision"/> null is the device's default.
    /// With <paramref name="cudaGraph"/> on a CUDA device the timed steps replay one captured graph (eager when the
    /// capture fails, saying why on stderr and in the result); other devices ignore it.
    /// </summary>
    public static JsonObject Run(ElectraConfig config, int b, int t, int steps, Device device, bool breakdown, Precision? precision = null,
        bool cudaGraph = false)
    {
        if (b < 1 || t < 8 || steps < 1) throw new ArgumentException($"--batch ≥ 1, --seq ≥ 8 and --steps ≥ 1 are required (got {b}, {t}, {steps})");
        if (t > config.MaxPositionEmbeddings) throw new ArgumentException($"--seq {t} exceeds max_position_embeddings {config.MaxPositionEmbeddings}");
        var chosen = PrecisionChoice.Resolve(precision, device);
        using var model = new Pretrainer(config, null, new PretrainOptions(), device);
        using var opt = new AdamW(AdamW.DefaultGroups(model.NamedParameters()));
        var batch = SyntheticBatch(b, t);
        var backend = Backends.For(device);
        // As `pretrain` runs on CUDA: every step with the same shapes, the loss denominators on the device.
        model.StaticShapes = backend is CudaBackend;

        float lossFirst = float.NaN, lossLast = float.NaN;
        var times = new List<double>();
        var profiler = (backend as CudaBackend)?.Profile;
        CudaProfile.Counts? profile = null;
        bool profiledStepLogs = false;
        CapturedTrainStep? graph = null;
        string graphMode = backend is CudaBackend ? cudaGraph ? "on" : "off" : "n/a";
        double captureMs = double.NaN;
        for (int step = 0; step < steps + WarmupSteps; step++)
        {
            if (step == WarmupSteps && cudaGraph && backend is CudaBackend cudaBackend)
            {
                var capture = Stopwatch.StartNew();
                graph = CapturedTrainStep.TryCapture(model, opt, cudaBackend, batch, step, chosen, Lr, out var reason);
                captureMs = capture.Elapsed.TotalMilliseconds;
                if (graph is null)
                {
                    graphMode = "eager (capture failed: " + reason + ")";
                    Console.Error.WriteLine($"bench train: CUDA graph capture failed, running eager steps: {reason}");
                }
            }
            bool readLoss = step == 0 || step == steps + WarmupSteps - 1;
            // The first timed step is the one profiled: warm (kernels compiled, pool filled) and, unless it is also
            // the last, not a logging step.
            var counting = step == WarmupSteps ? profiler : null;
            var (ms, loss, counts) = graph is null
                ? Step(model, opt, batch, step, chosen, null, readLoss, counting)
                : GraphStep(graph, batch, step, backend, readLoss, counting);
            if (counting is not null) (profile, profiledStepLogs) = (counts, readLoss);
            if (step == 0) lossFirst = loss;
            else lossLast = loss;
            if (step >= WarmupSteps) times.Add(ms);
        }
        graph?.Dispose();
        double median = PhaseTimer.Median(times);
        var result = new JsonObject
        {
            ["tokens_per_s"] = Math.Round(b * t / (median / 1000.0), 1),
            ["step_ms_median"] = Math.Round(median, 3),
            ["step_ms_min"] = Math.Round(times.Min(), 3),
            ["batch"] = b,
            ["seq"] = t,
            ["steps"] = steps,
            ["loss_first"] = JsonNumbers.Finite(lossFirst),
            ["loss_last"] = JsonNumbers.Finite(steps + WarmupSteps > 1 ? lossLast : lossFirst),
            ["precision"] = chosen.Name(),
            // What the GEMMs read: bf16 operands, or F32 ones in TF32 or full FP32.
            ["matmul_precision"] = chosen == Precision.Bf16 ? "bf16" : backend is CudaBackend { AllowTf32: true } ? "tf32" : "fp32",
            ["cuda_graph"] = graphMode,
        };
        if (!double.IsNaN(captureMs)) result["capture_ms"] = Math.Round(captureMs, 3);

        if (breakdown)
        {
            // Separate eager steps after the timed ones (a graph's phases cannot be timed apart), so the synchronisations do not touch the headline numbers.
            var timer = new PhaseTimer(backend);
            var ops = new PhaseTimer(backend); // the backward phase again, split by the op each node recorded
            model.PhaseEnded = timer.End;
            for (int i = 0; i < steps; i++) Step(model, opt, batch, steps + WarmupSteps + i, chosen, timer, readLoss: false, backwardOps: ops);
            model.PhaseEnded = null;
            var medians = timer.Medians();
            var phases = new JsonObject();
            foreach (var (phase, ms) in medians) phases[phase] = Math.Round(ms, 3);
            result["phases"] = phases;
            result["phase_top5"] = new JsonArray(Top(medians, 5).Select(p => (JsonNode)p.Phase!).ToArray());
            var backwardOps = new JsonObject();
            foreach (var (op, ms) in ops.Medians().OrderByDescending(x => x.MedianMs)) backwardOps[op] = Math.Round(ms, 3);
            result["backward_ops"] = backwardOps;
            result["breakdown_steps"] = steps;
        }
        if (backend is CudaBackend cuda) result["peak_memory_bytes"] = cuda.Allocator.PeakInUse;
        if (profile is not null) result["step_profile"] = ProfileJson(profile, profiledStepLogs);
        return result;
    }

    /// <summary>
    /// One step's device profile: counts of what the host asked (launches, syncs, driver allocations, copies) and
    /// the modelled H100 time of its device work. The benchmark's own end-of-step synchronisation is not counted.
    /// </summary>
    public static JsonObject ProfileJson(CudaProfile.Counts c, bool loggingStep)
    {
        var byKernel = new JsonObject();
        foreach (var (k, n) in c.LaunchesByKernel.OrderByDescending(x => x.Value).ThenBy(x => x.Key, StringComparer.Ordinal)) byKernel[k] = n;
        var bySite = new JsonObject();
        foreach (var (k, sec) in c.ModelledSecondsBySite.OrderByDescending(x => x.Value).ThenBy(x => x.Key, StringComparer.Ordinal))
            bySite[k] = Math.Round(sec * 1e3, 4);
        return new JsonObject
        {
            ["logging_step"] = loggingStep,
            ["kernel_launches"] = c.KernelLaunches,
            ["cublas_calls"] = c.CublasCalls,
            ["graph_launches"] = c.GraphLaunches,
            ["memsets"] = c.Memsets,
            ["device_copies"] = c.DeviceCopies,
            ["host_syncs"] = c.HostSyncs,
            ["driver_allocations"] = c.DriverAllocations,
            ["driver_frees"] = c.DriverFrees,
            ["uploads"] = c.Uploads,
            ["bytes_uploaded"] = c.BytesUploaded,
            ["downloads"] = c.Downloads,
            ["bytes_downloaded"] = c.BytesDownloaded,
            ["modelled_h100_ms"] = Math.Round(c.ModelledSeconds * 1e3, 3),
            ["modelled_bytes"] = c.ModelledBytes,
            ["modelled_gflop"] = Math.Round(c.ModelledFlops / 1e9, 3),
            ["launches_by_kernel"] = byKernel,
            ["modelled_ms_by_site"] = bySite,
        };
    }

    /// <summary>The <paramref name="n"/> most expensive phases, costliest first.</summary>
    public static IReadOnlyList<(string Phase, double MedianMs)> Top(IReadOnlyList<(string Phase, double MedianMs)> phases, int n) =>
        phases.OrderByDescending(p => p.MedianMs).Take(n).ToList();

    /// <summary>[CLS] random words [SEP] in every row, no padding: every token is real.</summary>
    public static TokenBatch SyntheticBatch(int b, int t)
    {
        var rng = new Random(1);
        var ids = new int[b * t];
        for (int i = 0; i < ids.Length; i++) ids[i] = i % t == 0 ? 101 : i % t == t - 1 ? 102 : 1000 + rng.Next(20000);
        return new TokenBatch(ids, new int[b * t], Enumerable.Repeat(1, b * t).ToArray(), b, t);
    }

    /// <summary>ELECTRA-Small's schedule, 10,000 steps in (as compare-pytorch.py).</summary>
    public static float Lr(long step) => LrSchedule.Electra(5e-4f, 10_000 + step, 10_000, 1_000_000);

    /// <summary>One replayed step, timed and profiled as <see cref="Step"/> times an eager one.</summary>
    private static (double Ms, float Loss, CudaProfile.Counts? Profile) GraphStep(CapturedTrainStep graph, TokenBatch batch, int step,
        IBackend backend, bool readLoss, CudaProfile? profiler)
    {
        float value = float.NaN;
        var before = profiler?.Snapshot();
        CudaProfile.Counts? counts = null;
        var clock = Stopwatch.StartNew();
        graph.Run(batch, step);
        if (readLoss) value = graph.Loss();
        if (before is not null) counts = profiler!.Snapshot().Minus(before);
        backend.Synchronize();
        return (clock.Elapsed.TotalMilliseconds, value, counts);
    }

    /// <summary>
    /// One step; returns its wall time (host and device, freeing the step's tensors included) and, when asked, its
    /// loss (one scalar copy, which only the first and last steps pay).
    /// </summary>
    private static (double Ms, float Loss, CudaProfile.Counts? Profile) Step(Pretrainer model, AdamW opt, TokenBatch batch, int step,
        Precision precision, PhaseTimer? timer, bool readLoss, CudaProfile? profiler = null, PhaseTimer? backwardOps = null)
    {
        float value = float.NaN;
        var before = profiler?.Snapshot();
        CudaProfile.Counts? counts = null;
        timer?.Start();
        var clock = Stopwatch.StartNew();
        using (new TensorScope())
        using (Autocast.For(precision))
        {
            var (loss, _) = model.Forward(batch, step, computeMetrics: false);
            if (backwardOps is null) loss.Backward();
            else
            {
                backwardOps.Start();
                using (Autograd.BackwardObserver.Observe(backwardOps.End)) loss.Backward();
            }
            timer?.End(Backward);
            GradClip.ClipGlobalNorm(opt.Params, 1f);
            timer?.End(Clipping);
            opt.Step(Lr(step));
            timer?.End(Optimizer);
            model.ZeroGrad();
            if (readLoss) value = loss.Item();
            if (before is not null) counts = profiler!.Snapshot().Minus(before);
            loss.Backend.Synchronize();
        }
        double ms = clock.Elapsed.TotalMilliseconds;
        timer?.End(ZeroGradAndFree);
        return (ms, value, counts);
    }
}
