using System.Text.RegularExpressions;
using Electra.Model;
using Electra.Optim;
using Electra.Train.Benchmarking;

namespace Electra.Tests.Cuda;

using Tensor = Electra.Tensor;

/// <summary>
/// Whole pretraining steps in bf16 mixed precision on the CUDA backend against the same steps in fp32 on the CPU
/// (the spec), from the same initial weights, batch and random streams.
/// </summary>
[Category("Gpu")]
public class MixedPrecisionStepTests
{
    private static List<float> Losses(ElectraConfig config, Device device, Precision precision, TokenBatch batch, int steps)
    {
        using var model = new Pretrainer(config, null, new PretrainOptions { Seed = 5 }, device, initSeed: 9);
        using var opt = new AdamW(AdamW.DefaultGroups(model.NamedParameters()));
        var losses = new List<float>();
        for (int step = 0; step < steps; step++)
        {
            using var scope = new TensorScope();
            using var amp = Autocast.For(precision);
            var (loss, _) = model.Forward(batch, step, computeMetrics: false);
            losses.Add(loss.Item());
            loss.Backward();
            GradClip.ClipGlobalNorm(opt.Params, 1f);
            opt.Step(LrSchedule.Electra(5e-4f, 10_000 + step, 10_000, 1_000_000));
            model.ZeroGrad();
        }
        return losses;
    }

    // The bar is "more accurate than the loss rounded to bf16 once" (2⁻⁹ ≈ 2e-3 relative). Step 0 runs the same
    // weights: the difference is only the rounding of activations to 8 significant bits (≤ 2⁻⁹ each, random in sign,
    // averaged over every token of the mean), so 2e-4. Later steps also carry weights that moved by slightly
    // different updates (bf16 activation gradients; the weight gradients are F32 sums of them): 1e-3.
    // Measured under the simulator: tiny 1.7e-5, 1.2e-4, 1.1e-4; Small 5.7e-5, 3.5e-4.
    [TestCase("tiny", 4, 64, 3)]
    [TestCase("small", 2, 32, 2)]
    public void Bf16StepLossTracksFp32(string preset, int b, int t, int steps)
    {
        var dev = Gpu.Dev;
        var config = ElectraConfig.Preset(preset);
        var batch = TrainBenchmark.SyntheticBatch(b, t);
        var fp32 = Losses(config, Device.Cpu, Precision.Fp32, batch, steps);
        var bf16 = Losses(config, dev, Precision.Bf16, batch, steps);
        TestContext.Out.WriteLine($"{preset}: fp32 {string.Join(", ", fp32)}; bf16 {string.Join(", ", bf16)}");
        for (int i = 0; i < steps; i++)
        {
            double relative = Math.Abs(bf16[i] - fp32[i]) / fp32[i];
            Assert.That(relative, Is.LessThanOrEqualTo(i == 0 ? 2e-4 : 1e-3), $"{preset} step {i}: bf16 {bf16[i]} against fp32 {fp32[i]}");
        }
        Assert.That(bf16[^1], Is.LessThan(bf16[0] - 1f), "the bf16 run learns (its loss falls as the fp32 run's does)");
    }

    [Test]
    public void Bf16StepKeepsMastersGradientsAndLossesF32AndTheCopiesCurrent()
    {
        var dev = Gpu.Dev;
        using var model = new Pretrainer(ElectraConfig.Tiny, null, new PretrainOptions(), dev, initSeed: 2);
        using var opt = new AdamW(AdamW.DefaultGroups(model.NamedParameters()));
        var batch = TrainBenchmark.SyntheticBatch(2, 32);
        using var scope = new TensorScope();
        using var amp = Autocast.Bf16();
        using (var types = Tensor.Zeros([2, 32], DType.I32, dev))
        using (var mask = Tensor.Ones([2, 32], DType.I32, dev))
        using (var ids = Tensor.FromArray(batch.Ids, [2, 32], dev))
        {
            var hidden = model.Discriminator!.Electra.Forward(ids, types, mask);
            Assert.That(hidden.DType, Is.EqualTo(DType.BF16), "encoder activations are bf16");
        }
        var (loss, metrics) = model.Forward(batch, 0, computeMetrics: true);
        Assert.That(loss.DType, Is.EqualTo(DType.F32));
        Assert.That(metrics!.GenAcc, Is.InRange(0f, 1f), "generator accuracy from the argmax of bf16 logits");
        Assert.That(metrics.DiscAuc, Is.InRange(0f, 1f));
        loss.Backward();
        var named = model.NamedParameters().ToList();
        foreach (var (name, p) in named)
        {
            Assert.That(p.DType, Is.EqualTo(DType.F32), $"{name}: master weights are F32");
            Assert.That(p.Grad?.DType, Is.EqualTo(DType.F32), $"{name}: weight gradients are F32");
        }
        // Every GEMM weight has a copy, and only those: Linear weights and the tied word embeddings (the LM head).
        foreach (var (name, p) in named)
        {
            bool gemmWeight = p.Rank == 2 && !name.Contains("position_embeddings") && !name.Contains("token_type_embeddings");
            Assert.That(p.Bf16Copy is not null, Is.EqualTo(gemmWeight), $"{name}: bf16 copy");
        }
        opt.Step(1e-3f);
        foreach (var (name, p) in named.Where(x => x.Tensor.Bf16Copy is not null).DistinctBy(x => x.Tensor))
            Assert.That(p.Bf16Copy!.ToArray<ushort>(), Is.EqualTo(p.ToFloatArray().Select(BFloat16.FromFloat).ToArray()),
                $"{name}: AdamW rewrote the copy from the updated master");
        model.ZeroGrad();
    }

    /// <summary>Kernel name → launches during <paramref name="work"/>, from the backend's step profile (as true on a GPU).</summary>
    private static Dictionary<string, long> Launches(Action work)
    {
        var before = Gpu.Backend.Profile.Snapshot();
        work();
        Gpu.Backend.Synchronize();
        // Profile names are "source.cu:kernel"; the kernel names are unique across sources.
        return Gpu.Backend.Profile.Snapshot().Minus(before).LaunchesByKernel.ToDictionary(kv => kv.Key[(kv.Key.IndexOf(':') + 1)..], kv => kv.Value);
    }

    [Test]
    public void ABf16StepLaunchesTheTensorCoreAttentionAndNoF32ActivationKernel()
    {
        var dev = Gpu.Dev;
        var config = ElectraConfig.Tiny;                                  // discriminator HS 64, generator HS 32
        var gen = config.Generator();
        using var model = new Pretrainer(config, null, new PretrainOptions(), dev, initSeed: 4);
        using var opt = new AdamW(AdamW.DefaultGroups(model.NamedParameters()));
        var batch = TrainBenchmark.SyntheticBatch(2, 48);
        void Step(int step)
        {
            using var scope = new TensorScope();
            using var amp = Autocast.Bf16();
            var (loss, _) = model.Forward(batch, step, computeMetrics: false);
            loss.Backward();
            GradClip.ClipGlobalNorm(opt.Params, 1f);
            opt.Step(1e-4f);
            model.ZeroGrad();
        }
        Step(0); // the first step also makes the weights' bf16 copies
        var launches = Launches(() => Step(1));
        TestContext.Out.WriteLine(string.Join("\n", launches.OrderBy(kv => kv.Key).Select(kv => $"{kv.Key} {kv.Value}")));

        int discLayers = config.NumHiddenLayers, genLayers = gen.NumHiddenLayers;
        Assert.That(config.HiddenSize / config.NumAttentionHeads, Is.EqualTo(64));
        Assert.That(gen.HiddenSize / gen.NumAttentionHeads, Is.EqualTo(32));
        foreach (var kernel in new[] { "attention_forward", "attention_backward_dq", "attention_backward_dkdv" })
        {
            Assert.That(launches.GetValueOrDefault($"{kernel}_mma_bf16_hs64"), Is.EqualTo(discLayers), $"{kernel}: the discriminator's layers on tensor cores");
            Assert.That(launches.GetValueOrDefault($"{kernel}_mma_bf16_hs32"), Is.EqualTo(genLayers), $"{kernel}: the generator's layers on tensor cores");
        }
        var f32Activations = launches.Keys.Where(k =>
            Regex.IsMatch(k, "^attention_(forward|backward_dq|backward_dkdv)_(f32|bf16)_hs") // the FFMA kernels, either dtype
            || k.StartsWith("layernorm_forward_f32", StringComparison.Ordinal) || k.StartsWith("layernorm_backward_f32", StringComparison.Ordinal)
            || k is "add_bias" or "bias_gelu_forward" or "bias_gelu_backward" or "dropout_forward" or "embedding_forward" or "embedding_backward"
                or "gather_rows" or "scatter_rows_add" or "column_sums" or "softmax_cross_entropy_f32" or "argmax_rows").ToList();
        Assert.That(f32Activations, Is.Empty, "every activation kernel of the step is a bf16 instance");
        // One cast each way: the discriminator's logits to F32 for the BCE, and their gradient back to bf16. No weight
        // is cast again after the first step: AdamW keeps the copies.
        Assert.That(launches.GetValueOrDefault("bf16_to_f32"), Is.EqualTo(1));
        Assert.That(launches.GetValueOrDefault("f32_to_bf16"), Is.EqualTo(1));
        Assert.That(launches.GetValueOrDefault("adamw_step"), Is.EqualTo(1), "one AdamW launch updates masters and copies");
        Assert.That(launches.GetValueOrDefault("softmax_cross_entropy_bf16"), Is.EqualTo(1), "the generator head's bf16 logits");
        // Backward starts from the host 1 and Add hands the losses 1 and 50 as host numbers: the CE gradient is used
        // as its kernel wrote it, the BCE's is scaled by 50 in its one launch, and nothing reads a device scalar.
        Assert.That(launches.GetValueOrDefault("scale_by_scalar_bf16") + launches.GetValueOrDefault("scale_by_scalar"), Is.Zero);
        Assert.That(launches.GetValueOrDefault("scale"), Is.EqualTo(1), "the BCE gradient times 50");
    }
}
