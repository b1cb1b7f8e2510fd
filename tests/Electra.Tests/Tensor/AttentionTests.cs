namespace Electra.Tests.Tensor;

using Tensor = Electra.Tensor;

public class AttentionTests
{
    /// <summary>
    /// Attention as IBackend documents it: qkv [B, T, 3, NH, HS]; scores scale·q_i·k_j over real keys; softmax;
    /// probabilities dropped with Philox(seed, offset) at ((b·NH + h)·T + i)·T + j and kept ones scaled by
    /// 1/(1−p); out [B, T, NH, HS]. A query with no real key gets zeros.
    /// </summary>
    private static double[] Reference(double[] qkv, int[] mask, int b, int t, int heads, int hs, double scale, float p, ulong seed, ulong offset)
    {
        int h = heads * hs;
        var output = new double[b * t * h];
        var prob = new double[t];
        for (int bi = 0; bi < b; bi++)
            for (int hi = 0; hi < heads; hi++)
                for (int i = 0; i < t; i++)
                {
                    double max = double.NegativeInfinity;
                    for (int j = 0; j < t; j++)
                    {
                        prob[j] = double.NegativeInfinity;
                        if (mask[bi * t + j] == 0) continue;
                        double s = 0;
                        for (int d = 0; d < hs; d++)
                            s += qkv[(bi * t + i) * 3 * h + hi * hs + d] * qkv[(bi * t + j) * 3 * h + h + hi * hs + d];
                        prob[j] = s * scale;
                        max = Math.Max(max, prob[j]);
                    }
                    if (double.IsNegativeInfinity(max)) continue;
                    double sum = 0;
                    for (int j = 0; j < t; j++) sum += prob[j] = Math.Exp(prob[j] - max);
                    ulong row = ((ulong)(bi * heads + hi) * (ulong)t + (ulong)i) * (ulong)t;
                    for (int j = 0; j < t; j++)
                    {
                        double w = prob[j] / sum;
                        if (p > 0f) w = GradCheck.Keeps(p, seed, offset, row + (ulong)j) ? w / (1.0 - p) : 0;
                        for (int d = 0; d < hs; d++)
                            output[(bi * t + i) * h + hi * hs + d] += w * qkv[(bi * t + j) * 3 * h + 2 * h + hi * hs + d];
                    }
                }
        return output;
    }

    // B, T, NH, HS, dropout, padded keys per batch row
    [TestCase(2, 7, 3, 4, 0f, new[] { 0, 3 })]      // H = 12 with 3 heads, the second sequence padded
    [TestCase(2, 7, 3, 4, 0.3f, new[] { 2, 0 })]
    [TestCase(1, 5, 1, 8, 0f, new[] { 0 })]
    [TestCase(3, 9, 2, 3, 0.1f, new[] { 1, 4, 8 })]
    [TestCase(1, 29, 1, 36, 0.1f, new[] { 5 })]       // several 12×32 GEMM tiles, with ragged edges
    public void MatchesReferenceAndFiniteDifferences(int b, int t, int heads, int hs, float dropout, int[] padded)
    {
        int h = heads * hs;
        var qkvs = GradCheck.Uniform(b * t * 3 * h, 41, 1.5f);
        var mask = new int[b * t];
        for (int bi = 0; bi < b; bi++)
            for (int j = 0; j < t; j++) mask[bi * t + j] = j < t - padded[bi] ? 1 : 0;
        var r = GradCheck.Uniform(b * t * h, 42);
        const ulong seed = 0x5EED_1234_ABCDUL, offset = 77;
        double scale = 1f / MathF.Sqrt(hs);

        using var scope = new TensorScope();
        var qkv = GradCheck.Leaf(qkvs, [b, t, 3 * h]);
        var keyMask = Tensor.FromArray(mask, [b, t]);
        var rng = new RandomStream(seed);
        rng.Seek(offset);
        var y = Ops.Attention(qkv, keyMask, heads, dropout, rng);
        Assert.That(rng.Offset, Is.EqualTo(dropout > 0f ? offset + 1 : offset), "dropout takes one offset, no dropout none");
        Assert.That(y.Shape, Is.EqualTo(new Shape(b, t, h)));
        double[] Ref(double[][] v) => Reference(v[0], mask, b, t, heads, hs, scale, dropout, seed, offset);
        GradCheck.AssertForward(y.ToFloatArray(), Ref([GradCheck.ToDouble(qkvs)]), "Attention");

        GradCheck.BackwardWeighted(y, r);
        var dQkv = GradCheck.TakeGrad(qkv);
        GradCheck.AssertGradients("Attention", Ref, [qkvs], r, (0, dQkv, "qkv"));
        // Padded keys and values take no part: their K and V gradients are exactly zero.
        for (int bi = 0; bi < b; bi++)
            for (int j = t - padded[bi]; j < t; j++)
                for (int c = h; c < 3 * h; c++)
                    Assert.That(dQkv[(bi * t + j) * 3 * h + c], Is.EqualTo(0f), $"dK/dV of padded key b={bi} j={j}");
    }

    // The projection's bias handed to attention: the function of qkv + bias, its gradient Σ_rows dQkv.
    [TestCase(2, 7, 3, 4, 0.3f, new[] { 2, 0 })]
    [TestCase(3, 9, 2, 3, 0f, new[] { 1, 4, 8 })]
    public void BiasIsAddedToQkvAndGetsTheColumnSumsOfItsGradient(int b, int t, int heads, int hs, float dropout, int[] padded)
    {
        int h = heads * hs;
        var qkvs = GradCheck.Uniform(b * t * 3 * h, 46, 1.5f);
        var biases = GradCheck.Uniform(3 * h, 47, 0.8f);
        var mask = new int[b * t];
        for (int bi = 0; bi < b; bi++)
            for (int j = 0; j < t; j++) mask[bi * t + j] = j < t - padded[bi] ? 1 : 0;
        var r = GradCheck.Uniform(b * t * h, 48);
        const ulong seed = 0xB1A5, offset = 5;
        double scale = 1f / MathF.Sqrt(hs);

        using var scope = new TensorScope();
        var qkv = GradCheck.Leaf(qkvs, [b, t, 3 * h]);
        var bias = GradCheck.Leaf(biases, [3 * h]);
        var keyMask = Tensor.FromArray(mask, [b, t]);
        var rng = new RandomStream(seed);
        rng.Seek(offset);
        var y = Ops.Attention(qkv, keyMask, heads, dropout, rng, bias);
        double[] Ref(double[][] v)
        {
            var sum = (double[])v[0].Clone();
            for (int i = 0; i < sum.Length; i++) sum[i] += v[1][i % (3 * h)];
            return Reference(sum, mask, b, t, heads, hs, scale, dropout, seed, offset);
        }
        GradCheck.AssertForward(y.ToFloatArray(), Ref([GradCheck.ToDouble(qkvs), GradCheck.ToDouble(biases)]), "Attention with bias");
        GradCheck.BackwardWeighted(y, r);
        var dQkv = GradCheck.TakeGrad(qkv);
        var dBias = GradCheck.TakeGrad(bias);
        GradCheck.AssertGradients("Attention with bias", Ref, [qkvs, biases], r, (0, dQkv, "qkv"), (1, dBias, "bias"));
    }

    [Test]
    public void BiasInsideAttentionGivesTheBitsOfAddingItFirst()
    {
        // The CPU backend adds the bias as it copies each head out: the same float sums as AddBias, so the same bits.
        const int b = 2, t = 11, heads = 2, hs = 5, h = heads * hs;
        var cpu = Backends.Cpu;
        using var scope = new TensorScope();
        var qkv = Tensor.FromArray(GradCheck.Uniform(b * t * 3 * h, 49, 1.5f), [b, t, 3 * h]);
        var bias = Tensor.FromArray(GradCheck.Uniform(3 * h, 50), [3 * h]);
        var mask = Tensor.FromArray(Enumerable.Range(0, b * t).Select(i => i % t < t - 3 * (i / t) ? 1 : 0).ToArray(), [b, t]);
        var dOut = Tensor.FromArray(GradCheck.Uniform(b * t * h, 51), [b, t, h]);
        var biased = Tensor.Empty([b, t, 3 * h]);
        cpu.AddBias(qkv, bias, biased);
        (float[] Out, float[] DQkv) Run(Tensor input, Tensor? qkvBias, Tensor? dBias)
        {
            var o = Tensor.Empty([b, t, h]);
            var lse = Tensor.Empty([b, heads, t]);
            var d = Tensor.Empty([b, t, 3 * h]);
            cpu.AttentionForward(input, mask, heads, 0.4f, 0.2f, 9, 4, o, lse, qkvBias);
            cpu.AttentionBackward(dOut, input, mask, o, lse, heads, 0.4f, 0.2f, 9, 4, d, qkvBias, dBias);
            return (o.ToFloatArray(), d.ToFloatArray());
        }
        var first = Run(biased, null, null);
        var dBias = Tensor.Empty([3 * h]);
        var fused = Run(qkv, bias, dBias);
        Assert.That(fused.Out, Is.EqualTo(first.Out), "output");
        Assert.That(fused.DQkv, Is.EqualTo(first.DQkv), "dQkv");
        var sums = Tensor.Empty([3 * h]);
        cpu.SumRows(Tensor.FromArray(first.DQkv, [b * t, 3 * h]), sums, 0f);
        Assert.That(dBias.ToFloatArray(), Is.EqualTo(sums.ToFloatArray()), "dBias = SumRows(dQkv)");
    }

    [Test]
    public void BiasOfTheWrongLengthIsANamedError()
    {
        using var scope = new TensorScope();
        var qkv = Tensor.Zeros([1, 3, 12]);
        var mask = Tensor.FromArray(new[] { 1, 1, 1 }, [1, 3]);
        var ex = Assert.Throws<ArgumentException>(() => Ops.Attention(qkv, mask, 2, qkvBias: Tensor.Zeros([4])));
        Assert.That(ex!.Message, Does.Contain("qkvBias [4]").And.Contain("[12]"));
    }

    [Test]
    public void DropoutOfAttentionDependsOnlyOnSeedAndOffset()
    {
        var qkvs = GradCheck.Uniform(2 * 6 * 3 * 8, 43);
        using var scope = new TensorScope();
        var qkv = Tensor.FromArray(qkvs, [2, 6, 24]);
        var mask = Tensor.Ones([2, 6], DType.I32);
        float[] Run(ulong seed, ulong offset)
        {
            var rng = new RandomStream(seed);
            rng.Seek(offset);
            return Ops.Attention(qkv, mask, 2, 0.5f, rng).ToFloatArray();
        }
        Assert.That(Run(9, 3), Is.EqualTo(Run(9, 3)));
        Assert.That(Run(9, 4), Is.Not.EqualTo(Run(9, 3)));
        Assert.That(Run(10, 3), Is.Not.EqualTo(Run(9, 3)));
        // Without a stream no dropout is applied, whatever the rate.
        var plain = Ops.Attention(qkv, mask, 2).ToFloatArray();
        Assert.That(Ops.Attention(qkv, mask, 2, 0.5f, null).ToFloatArray(), Is.EqualTo(plain));
    }

    [Test]
    public void QueryOverOnlyPaddingGetsZeroOutputAndGradient()
    {
        var qkvs = GradCheck.Uniform(2 * 4 * 3 * 6, 44);
        using var scope = new TensorScope();
        var qkv = GradCheck.Leaf(qkvs, [2, 4, 18]);
        var mask = Tensor.FromArray([1, 1, 0, 0, 0, 0, 0, 0], [2, 4]);
        var y = Ops.Attention(qkv, mask, 3);
        var values = y.ToFloatArray();
        Assert.That(values.All(float.IsFinite), Is.True);
        Assert.That(values[(4 * 6)..], Is.All.EqualTo(0f), "the all-padding sequence");
        GradCheck.BackwardWeighted(y, GradCheck.Uniform(2 * 4 * 6, 45));
        var g = GradCheck.TakeGrad(qkv);
        Assert.That(g.All(float.IsFinite), Is.True);
        Assert.That(g[(4 * 18)..], Is.All.EqualTo(0f));
    }

    [Test]
    public void MaskOfWrongShapeIsANamedError()
    {
        using var scope = new TensorScope();
        var ex = Assert.Throws<ArgumentException>(() => Ops.Attention(Tensor.Zeros([2, 5, 12]), Tensor.Ones([2, 4], DType.I32), 2));
        Assert.That(ex!.Message, Does.Contain("keyMask").And.Contain("[2, 4]").And.Contain("[2, 5]"));
    }
}
