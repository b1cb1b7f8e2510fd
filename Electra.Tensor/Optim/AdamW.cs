namespace Electra.Optim;

/// <summary>A group of parameters sharing a weight decay and a learning-rate multiplier.</summary>
public sealed record ParamGroup(IReadOnlyList<(string Name, Tensor Param)> Params, float WeightDecay, float LrScale = 1f);

/// <summary>
/// Adam with decoupled weight decay, applied to all parameters in one backend call. ELECTRA pretraining turns
/// bias correction off (its AdamWeightDecayOptimizer never had it); fine-tuning keeps it on.
/// </summary>
public sealed class AdamW : IDisposable
{
    private readonly List<(string name, Tensor param, Tensor m, Tensor v, float wd, float lrScale)> _state = new();

    public AdamW(IEnumerable<ParamGroup> groups, float beta1 = 0.9f, float beta2 = 0.999f, float eps = 1e-6f, bool biasCorrection = false)
    {
        Beta1 = beta1;
        Beta2 = beta2;
        Eps = eps;
        BiasCorrection = biasCorrection;
        foreach (var g in groups)
            foreach (var (name, p) in g.Params)
            {
                if (_state.Any(s => ReferenceEquals(s.param, p))) continue; // tied weights are stepped once
                var m = TensorScope.Outside(() => Tensor.Zeros(p.Shape, DType.F32, p.Device));
                var v = TensorScope.Outside(() => Tensor.Zeros(p.Shape, DType.F32, p.Device));
                _state.Add((name, p, m, v, g.WeightDecay, g.LrScale));
            }
    }

    public float Beta1 { get; }
    public float Beta2 { get; }
    public float Eps { get; }
    public bool BiasCorrection { get; }

    /// <summary>Number of steps taken; bias correction uses it, and checkpoints store it.</summary>
    public int StepCount { get; set; }

    public IEnumerable<(string Name, Tensor Param, Tensor M, Tensor V)> State => _state.Select(s => (s.name, s.param, s.m, s.v));

    public IReadOnlyList<Tensor> Params => _state.Select(s => s.param).ToList();

    /// <summary>
    /// Weight decay 0.01 for every parameter except LayerNorm weights and biases (ELECTRA's exclusion list:
    /// "LayerNorm", "layer_norm", "bias").
    /// </summary>
    public static ParamGroup[] DefaultGroups(IEnumerable<(string Name, Tensor Param)> named, float weightDecay = 0.01f)
    {
        var all = named.ToList();
        static bool NoDecay(string n) => n.Contains("LayerNorm", StringComparison.Ordinal) || n.Contains("layer_norm", StringComparison.Ordinal) || n.EndsWith("bias", StringComparison.Ordinal);
        return
        [
            new ParamGroup(all.Where(p => !NoDecay(p.Name)).ToList(), weightDecay),
            new ParamGroup(all.Where(p => NoDecay(p.Name)).ToList(), 0f),
        ];
    }

    /// <summary>One update with learning rate <paramref name="lr"/>; parameters without a gradient are skipped.</summary>
    public void Step(float lr)
    {
        StepCount++;
        var byScale = _state.Where(s => s.param.Grad is not null).GroupBy(s => s.lrScale);
        foreach (var group in byScale)
        {
            // A parameter with a bf16 copy (mixed precision) has it rewritten in the same pass as its update.
            var slots = group.Select(s => new AdamWSlot(s.param, s.param.Grad!, s.m, s.v, s.wd, s.param.Bf16Copy)).ToList();
            if (slots.Count == 0) continue;
            slots[0].Param.Backend.AdamW(slots, lr * group.Key, Beta1, Beta2, Eps, StepCount, BiasCorrection);
        }
    }

    public void Dispose()
    {
        foreach (var s in _state)
        {
            s.m.Dispose();
            s.v.Dispose();
        }
        _state.Clear();
    }
}

/// <summary>Gradient clipping by the global norm of all gradients, computed without leaving the device.</summary>
public static class GradClip
{
    /// <summary>Scales gradients so their global norm is at most maxNorm; returns the norm before clipping (device scalar).</summary>
    public static Tensor ClipGlobalNorm(IReadOnlyList<Tensor> parameters, float maxNorm)
    {
        var grads = parameters.Where(p => p.Grad is not null).Select(p => p.Grad!).Distinct(ReferenceEqualityComparer.Instance).Cast<Tensor>().ToList();
        if (grads.Count == 0) throw new InvalidOperationException("ClipGlobalNorm: no parameter has a gradient; run Backward first");
        var norm = Tensor.Empty(new Shape(), DType.F32, grads[0].Device);
        grads[0].Backend.GlobalNorm(grads, norm);
        grads[0].Backend.ClipByNorm(grads, norm, maxNorm);
        return norm;
    }
}

/// <summary>ELECTRA's schedule: peak·min(1, t/warmup)·(1 − t/total), warmup and linear decay applied together.</summary>
public static class LrSchedule
{
    public static float Electra(float peak, long step, long warmup, long total)
    {
        if (total <= 0) throw new ArgumentOutOfRangeException(nameof(total), total, "total steps must be positive");
        double warm = warmup > 0 ? Math.Min(1.0, (double)step / warmup) : 1.0;
        double decay = Math.Max(0.0, 1.0 - (double)step / total);
        return (float)(peak * warm * decay);
    }
}
