using BenchmarkDotNet.Attributes;
using Electra.Model;
using Electra.Optim;

namespace Electra.Benchmarks;

/// <summary>
/// One full CPU pretraining step (generator + discriminator forward and backward, clipping, AdamW) on a synthetic
/// batch, as <c>electra bench train</c> runs it: Tiny at B=32 (the default `electra pretrain` job) and Small at B=8
/// (PERF.md's libtorch reference on this machine: ≈ 680 ms per step).
/// </summary>
[MemoryDiagnoser(false)]
public class TrainStepBenchmarks
{
    private Pretrainer model = null!;
    private AdamW opt = null!;
    private TokenBatch batch = null!;
    private long step;

    [Params("tiny/B32", "small/B8")]
    public string Case { get; set; } = "tiny/B32";

    [GlobalSetup]
    public void Setup()
    {
        var parts = Case.Split("/B");
        int b = int.Parse(parts[1]), t = 128;
        model = new Pretrainer(ElectraConfig.Preset(parts[0]), null, new PretrainOptions(), Device.Cpu);
        opt = new AdamW(AdamW.DefaultGroups(model.NamedParameters()));
        var rng = new Random(1);
        var ids = new int[b * t];
        for (int i = 0; i < ids.Length; i++) ids[i] = i % t == 0 ? 101 : i % t == t - 1 ? 102 : 1000 + rng.Next(20000);
        batch = new TokenBatch(ids, new int[b * t], Enumerable.Repeat(1, b * t).ToArray(), b, t);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        opt.Dispose();
        model.Dispose();
    }

    [Benchmark]
    public void TrainStep()
    {
        using var scope = new TensorScope();
        var (loss, _) = model.Forward(batch, step++, computeMetrics: false);
        loss.Backward();
        GradClip.ClipGlobalNorm(opt.Params, 1f);
        opt.Step(1e-4f);
        model.ZeroGrad();
    }
}
