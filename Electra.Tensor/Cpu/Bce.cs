namespace Electra.Cpu;

public sealed unsafe partial class CpuBackend
{
    public void BceWithLogits(Tensor logits, Tensor labels, Tensor weights, Tensor losses, Tensor dLogits, float gradScale, Tensor? scaleBy = null)
    {
        int n = (int)logits.Count;
        if (labels.Count != n || weights.Count != n || losses.Count != n || dLogits.Count != n)
            throw new ArgumentException($"BceWithLogits: labels, weights, losses and dLogits need {n} elements");
        var x = F(logits);
        var y = F(labels);
        var w = F(weights);
        var l = F(losses);
        var d = F(dLogits);
        if (scaleBy is not null) gradScale *= Scalar("BceWithLogits", scaleBy);
        for (int i = 0; i < n; i++)
        {
            // softplus(x) − y·x, written to stay finite for large |x|.
            float xi = x[i];
            float softplus = MathF.Max(xi, 0f) + MathF.Log(1f + MathF.Exp(-MathF.Abs(xi)));
            l[i] = w[i] * (softplus - y[i] * xi);
            float sigmoid = 1f / (1f + MathF.Exp(-xi));
            d[i] = (sigmoid - y[i]) * w[i] * gradScale;
        }
    }
}
