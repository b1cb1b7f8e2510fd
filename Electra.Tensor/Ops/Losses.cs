using Electra.Autograd;

namespace Electra;

public static partial class Ops
{
    /// <summary>Options for drawing Gumbel-max samples from the same logits a cross-entropy reads.</summary>
    public readonly record struct GumbelDraw(float Temperature, ulong Seed, ulong Offset);

    /// <summary>
    /// A count kept on the device with its reciprocal (<see cref="Count"/> I32 [1], <see cref="Reciprocal"/> F32 [1],
    /// uploaded with the step's batch), for a step whose shapes are fixed so that one CUDA graph replays every step:
    /// a loss reads how many of its rows are real, and divides by that, without either being a launch argument.
    /// </summary>
    public readonly record struct DeviceCount(Tensor Count, Tensor Reciprocal);

    /// <summary>
    /// Mean softmax cross-entropy of logits [M, V] against targets [M] (rows with <paramref name="ignoreIndex"/>
    /// are left out of the mean). When the logits require grad the gradient is written over them in the same
    /// pass, so the logits must not be read after this call. <paramref name="validRows"/>, the number of
    /// non-ignored rows, saves reading the targets back when the caller knows it. With <paramref name="gumbel"/>
    /// the same read also returns argmax(logits/τ + Gumbel noise) per row, computed before any overwrite. With
    /// <paramref name="realRows"/> only that many leading rows count (the mean is over them); the rest are padding of
    /// a fixed-shape step: loss 0, gradient 0, and their sample is their target.
    /// BF16 logits are read with F32 arithmetic (their gradient is written as BF16); the loss is F32.
    /// </summary>
    public static (Tensor loss, Tensor? samples) SoftmaxCrossEntropy(Tensor logits, Tensor targets, int ignoreIndex = -100,
        int? validRows = null, GumbelDraw? gumbel = null, DeviceCount? realRows = null)
    {
        SameDevice("SoftmaxCrossEntropy", logits, targets);
        Activations("SoftmaxCrossEntropy", logits);
        targets.RequireDType(DType.I32, "SoftmaxCrossEntropy targets");
        if (logits.Rank != 2 || targets.Shape != new Shape(logits.Shape[0]))
            throw new ArgumentException($"SoftmaxCrossEntropy: expected logits [M, V] and targets [M], got {logits.Shape} and {targets.Shape}");
        int m = logits.Shape[0];
        int valid = realRows is not null ? m : validRows ?? targets.ToIntArray().Count(t => t != ignoreIndex);
        // A device count brings its own 1/count; the host's factor is then 1.
        float scale = realRows is not null ? 1f : valid > 0 ? 1f / valid : 0f;
        bool record = Node.ShouldRecord(logits);

        var losses = Tensor.Empty(new Shape(m), DType.F32, logits.Device);
        var samples = gumbel is null ? null : Tensor.Empty(new Shape(m), DType.I32, logits.Device);
        var draw = gumbel ?? new GumbelDraw(1f, 0, 0);
        // An intermediate's memory is reused for its gradient; a leaf's values must survive.
        var dLogits = !record ? null : logits.IsLeaf ? Like(logits) : logits;
        logits.Backend.SoftmaxCrossEntropy(logits, targets, ignoreIndex, losses, dLogits, scale,
            samples, draw.Temperature, draw.Seed, draw.Offset, realRows?.Count, realRows?.Reciprocal);
        var loss = Tensor.Empty(new Shape(), DType.F32, logits.Device);
        logits.Backend.Sum(losses, loss, scale, realRows?.Reciprocal);
        losses.Dispose();
        if (record)
        {
            // dLogits holds ∂loss/∂logits for a unit upstream gradient: a host 1 (the loss's own seed, or its share
            // of a sum of losses) leaves it as it is.
            Node.RecordTakingHostGradients("SoftmaxCrossEntropy", loss, [logits], g =>
            {
                ApplyUpstream(dLogits!, g);
                return [dLogits];
            });
        }
        return (loss, samples);
    }

    /// <summary>
    /// Weighted mean BCE-with-logits: Σ w·bce(x, y) / <paramref name="weightSum"/>. logits, labels, weights [N] F32
    /// (BF16 logits are cast to F32 first: losses are F32).
    /// </summary>
    public static Tensor BceWithLogits(Tensor logits, Tensor labels, Tensor weights, float weightSum)
    {
        if (!(weightSum > 0f)) throw new ArgumentOutOfRangeException(nameof(weightSum), weightSum, "the sum of weights must be positive");
        return BceWithLogits(logits, labels, weights, 1f / weightSum, null);
    }

    /// <summary>
    /// <see cref="BceWithLogits(Tensor, Tensor, Tensor, float)"/> with 1/Σw held on the device (F32 [1]), for a step
    /// whose shapes are fixed (a CUDA graph's), where the number of real tokens changes from step to step.
    /// </summary>
    public static Tensor BceWithLogits(Tensor logits, Tensor labels, Tensor weights, Tensor inverseWeightSum) =>
        BceWithLogits(logits, labels, weights, 1f, inverseWeightSum);

    private static Tensor BceWithLogits(Tensor logits, Tensor labels, Tensor weights, float scale, Tensor? scaleBy)
    {
        logits = Autocast.LossInput(logits);
        SameDevice("BceWithLogits", logits, labels, weights);
        F32("BceWithLogits", logits, labels, weights);
        if (labels.Shape != logits.Shape || weights.Shape != logits.Shape)
            throw new ArgumentException($"BceWithLogits: logits {logits.Shape}, labels {labels.Shape} and weights {weights.Shape} must match");
        int n = checked((int)logits.Count);
        var losses = Tensor.Empty(new Shape(n), DType.F32, logits.Device);
        var dLogits = Like(logits);
        using (var x = logits.View(n))
        using (var y = labels.View(n))
        using (var w = weights.View(n))
        using (var d = dLogits.View(n))
        {
            logits.Backend.BceWithLogits(x, y, w, losses, d, scale, scaleBy);
        }
        var loss = Like(logits, new Shape());
        logits.Backend.Sum(losses, loss, scale, scaleBy);
        losses.Dispose();
        if (!Node.ShouldRecord(logits))
        {
            dLogits.Dispose();
            return loss;
        }
        // Scaled in place and handed on as a view, which keeps the memory when the node releases what it saved.
        Node.RecordTakingHostGradients("BceWithLogits", loss, [logits], g =>
        {
            ApplyUpstream(dLogits, g);
            return [dLogits.View(logits.Shape.ToArray())];
        }, dLogits);
        return loss;
    }

    /// <summary>
    /// Multiplies a loss's gradient for a unit upstream by the upstream g, in place: nothing to do when g is the
    /// host 1, one launch with g as its argument when g is another host number, g read on the device otherwise.
    /// </summary>
    private static void ApplyUpstream(Tensor dLogits, Gradient g)
    {
        if (g.HostValue is float c)
        {
            if (c != 1f) dLogits.Backend.Scale(dLogits, c, dLogits);
        }
        else
        {
            dLogits.Backend.ScaleByScalar(dLogits, g.Tensor!, 1f, dLogits);
        }
    }
}
