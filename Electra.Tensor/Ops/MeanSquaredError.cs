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
        Node.Record("MeanSquaredError", loss, [prediction, target], g =>
        {
            Tensor? dPrediction = null, dTarget = null;
            if (prediction.RequiresGrad)
            {
                dPrediction = Like(prediction);
                prediction.Backend.ScaleByScalar(diff, g, 2f / n, dPrediction);
            }
            if (target.RequiresGrad)
            {
                dTarget = Like(target);
                prediction.Backend.ScaleByScalar(diff, g, -2f / n, dTarget);
            }
            return [dPrediction, dTarget];
        }, diff);
        return loss;
    }
}
