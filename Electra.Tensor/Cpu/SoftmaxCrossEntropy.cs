using System.Numerics.Tensors;

namespace Electra.Cpu;

public sealed unsafe partial class CpuBackend
{
    public void SoftmaxCrossEntropy(Tensor logits, Tensor targets, int ignoreIndex, Tensor losses, Tensor? dLogits, float gradScale,
        Tensor? samples, float temperature, ulong seed, ulong offset, Tensor? validRows = null, Tensor? scaleBy = null)
    {
        int m = logits.Shape[0], v = logits.Shape[1];
        // A fixed-shape step's padding rows (at or past validRows): not read; loss 0, gradient 0, sample = target.
        int valid = validRows is null ? m : Math.Clamp(CheckedCount(validRows), 0, m);
        if (scaleBy is not null) gradScale *= Scalar("SoftmaxCrossEntropy", scaleBy);
        if (targets.Count != m || losses.Count != m || (samples is not null && samples.Count != m))
            throw new ArgumentException($"SoftmaxCrossEntropy: targets, losses and samples need {m} elements for logits {logits.Shape}");
        if (dLogits is not null && dLogits.Count != logits.Count)
            throw new ArgumentException($"SoftmaxCrossEntropy: dLogits {dLogits.Shape} does not match logits {logits.Shape}");
        float* px = P(logits), pl = P(losses), pdx = dLogits is null ? null : P(dLogits);
        int* pt = PI(targets), ps = samples is null ? null : PI(samples);
        ParallelRows(m, v * 4L, (s, e) =>
        {
            for (int r = s; r < e; r++)
            {
                if (r >= valid)
                {
                    pl[r] = 0f;
                    if (ps is not null) ps[r] = pt[r];
                    if (pdx is not null) new Span<float>(pdx + (long)r * v, v).Clear();
                    continue;
                }
                var x = new ReadOnlySpan<float>(px + (long)r * v, v);
                // Sampling reads the logits before the gradient may overwrite them.
                if (ps is not null) ps[r] = GumbelArgmax(x, temperature, seed, offset, r, -1);
                int target = pt[r];
                if (target == ignoreIndex)
                {
                    pl[r] = 0f;
                    if (pdx is not null) new Span<float>(pdx + (long)r * v, v).Clear();
                    continue;
                }
                if ((uint)target >= (uint)v)
                    throw new ArgumentOutOfRangeException(nameof(targets), $"SoftmaxCrossEntropy: row {r} has target {target}, outside [0, {v})");
                float max = TensorPrimitives.Max(x);
                float lse = max + (float)Math.Log(SumExp(x, max));
                float xt = x[target];
                pl[r] = lse - xt;
                if (pdx is null) continue;
                var d = new Span<float>(pdx + (long)r * v, v);
                // d may be x itself: each element is read before it is written, and x[target] was saved above.
                TensorPrimitives.Subtract(x, lse, d);
                TensorPrimitives.Exp(d, d);
                TensorPrimitives.Multiply(d, gradScale, d);
                d[target] = (MathF.Exp(xt - lse) - 1f) * gradScale;
            }
        });
    }

    public void GumbelSample(Tensor logits, float temperature, ulong seed, ulong offset, Tensor? disallowed, Tensor samples)
    {
        int m = logits.Shape[0], v = logits.Shape[1];
        if (samples.Count != m || (disallowed is not null && disallowed.Count != m))
            throw new ArgumentException($"GumbelSample: samples and disallowed need {m} elements for logits {logits.Shape}");
        float* px = P(logits);
        int* ps = PI(samples), pd = disallowed is null ? null : PI(disallowed);
        ParallelRows(m, v * 8L, (s, e) =>
        {
            for (int r = s; r < e; r++)
                ps[r] = GumbelArgmax(new ReadOnlySpan<float>(px + (long)r * v, v), temperature, seed, offset, r, pd is null ? -1 : pd[r]);
        });
    }

    /// <summary>Σ exp(x − max): vectorised exponentials, summed in float per block of 1024 and in double across blocks.</summary>
    private static double SumExp(ReadOnlySpan<float> x, float max)
    {
        Span<float> block = stackalloc float[1024];
        double sum = 0;
        for (int c = 0; c < x.Length; c += block.Length)
        {
            var b = block[..Math.Min(block.Length, x.Length - c)];
            TensorPrimitives.Subtract(x.Slice(c, b.Length), max, b);
            TensorPrimitives.Exp(b, b);
            sum += TensorPrimitives.Sum(b);
        }
        return sum;
    }

    /// <summary>The one element of a scale kept on the device (here: in memory).</summary>
    private static float Scalar(string op, Tensor scaleBy)
    {
        if (scaleBy.DType != DType.F32 || scaleBy.Count != 1)
            throw new ArgumentException($"{op}: scaleBy must be one f32 element, got {scaleBy.Shape} {scaleBy.DType.Name()}");
        return F(scaleBy)[0];
    }

    private static int CheckedCount(Tensor validRows)
    {
        if (validRows.DType != DType.I32 || validRows.Count != 1)
            throw new ArgumentException($"SoftmaxCrossEntropy: validRows must be one i32 element, got {validRows.Shape} {validRows.DType.Name()}");
        return I(validRows)[0];
    }
}
