using Electra.Autograd;

namespace Electra;

public static partial class Ops
{
    /// <summary>
    /// Mean squared error Σ(prediction − target)² / N as a one-element tensor (STS-B's regression loss).
    /// Built from existing primitives so every backend has it: Add for the difference, GlobalNorm for √Σd², and
    /// ScaleByScalar to square that norm and, in backward, to apply the upstream gradient to 2d/N.
    /// </summary>
    public static Tensor MeanSquaredError(Tensor prediction, Tensor target)
    {
        prediction = Autocast.LossInput(prediction);
        SameDevice("MeanSquaredError", prediction, target);
        F32("MeanSquaredError", prediction, target);
        if (prediction.Count != target.Count)
            throw new ArgumentException($"MeanSquaredError: prediction {prediction.Shape} and target {target.Shape} hold different numbers of elements (shapes may differ, e.g. [B, 1] and [B])");
        if (prediction.Count == 0) throw new ArgumentException("MeanSquaredError: no elements");
        float n = prediction.Count;
        var diff = Like(prediction);                                            // d = prediction − target
        prediction.Backend.Add(prediction, target, diff, 1f, -1f);
        var norm = Like(prediction, new Shape());
        prediction.Backend.GlobalNorm([diff], norm);
        var loss = Like(prediction, new Shape());
        prediction.Backend.ScaleByScalar(norm, norm, 1f / n, loss);             // ‖d‖² / N
        norm.Dispose();
        if (!Node.ShouldRecord(prediction, target))
        {
            diff.Dispose();
            return loss;
        }
        Node.RecordTakingHostGradients("MeanSquaredError", loss, [prediction, target], g =>
        {
            Tensor? dPrediction = null, dTarget = null;
            if (prediction.RequiresGrad) dPrediction = ScaledDifference(diff, g, 2f / n, prediction);
            if (target.RequiresGrad) dTarget = ScaledDifference(diff, g, -2f / n, target);
            return [dPrediction, dTarget];
        }, diff);
        return loss;
    }

    /// <summary>α·g·diff in <paramref name="like"/>'s shape, a host g folded into α.</summary>
    private static Tensor ScaledDifference(Tensor diff, Gradient g, float alpha, Tensor like)
    {
        var d = Like(like);
        if (g.HostValue is float c) diff.Backend.Scale(diff, alpha * c, d);
        else diff.Backend.ScaleByScalar(diff, g.Tensor!, alpha, d);
        return d;
    }
}
