namespace Electra.Tests.Tensor;

using Tensor = Electra.Tensor;

/// <summary>Ops.EmbeddingSum and the CPU primitives against double-precision references written here.</summary>
public class EmbeddingSumTests
{
    private const int V = 11, P = 7, K = 2, E = 6, B = 3, T = 5, Pad = 0;

    // [B, T]: id 3 five times, [PAD] (0) three times, 10 twice; T < P, so position rows 5 and 6 are never used.
    private static readonly int[] Ids = [3, 0, 3, 10, 7, 3, 5, 3, 9, 0, 4, 3, 1, 10, 0];
    private static readonly int[] Types = [0, 0, 1, 1, 1, 0, 1, 1, 0, 0, 0, 0, 0, 1, 1];

    /// <summary>word[ids[r]] + position[r % T] + type[types[r]] in double; the [PAD] row read from <paramref name="padRow"/> when given.</summary>
    private static double[] Reference(double[] word, double[] position, double[] type, double[]? padRow = null)
    {
        var y = new double[Ids.Length * E];
        for (int r = 0; r < Ids.Length; r++)
            for (int c = 0; c < E; c++)
            {
                double w = Ids[r] == Pad && padRow is not null ? padRow[c] : word[Ids[r] * E + c];
                y[r * E + c] = w + position[r % T * E + c] + type[Types[r] * E + c];
            }
        return y;
    }

    /// <summary>The three table gradients of Σ y ∘ dOut in double, [PAD] excluded.</summary>
    private static (double[] Word, double[] Position, double[] Type) ReferenceGradients(float[] dOut)
    {
        var (dw, dp, dt) = (new double[V * E], new double[P * E], new double[K * E]);
        for (int r = 0; r < Ids.Length; r++)
            for (int c = 0; c < E; c++)
            {
                double g = dOut[r * E + c];
                if (Ids[r] != Pad) dw[Ids[r] * E + c] += g;
                dp[r % T * E + c] += g;
                dt[Types[r] * E + c] += g;
            }
        return (dw, dp, dt);
    }

    [Test]
    public void ForwardAndBackwardMatchTheReference()
    {
        var word = GradCheck.Uniform(V * E, 81);
        var position = GradCheck.Uniform(P * E, 82);
        var type = GradCheck.Uniform(K * E, 83);
        var dOut = GradCheck.Uniform(Ids.Length * E, 84);
        using var scope = new TensorScope();
        var cpu = Backends.Cpu;
        using var ids = Tensor.FromArray(Ids, [B, T]);
        using var types = Tensor.FromArray(Types, [B, T]);
        using var y = Tensor.Full([B * T, E], float.NaN);
        cpu.EmbeddingSumForward(Tensor.FromArray(word, [V, E]), Tensor.FromArray(position, [P, E]), Tensor.FromArray(type, [K, E]), ids, types, y);
        GradCheck.AssertForward(y.ToFloatArray(), Reference(GradCheck.ToDouble(word), GradCheck.ToDouble(position), GradCheck.ToDouble(type)), "EmbeddingSum");

        var (rw, rp, rt) = ReferenceGradients(dOut);
        using var g = Tensor.FromArray(dOut, [B * T, E]);
        foreach (bool accumulate in new[] { false, true })
        {
            // Written: poison must vanish everywhere. Accumulated: the start values stay under every unused row.
            float start = accumulate ? 0.25f : float.NaN;
            using var dw = Tensor.Full([V, E], start);
            using var dp = Tensor.Full([P, E], start);
            using var dt = Tensor.Full([K, E], start);
            cpu.EmbeddingSumBackward(g, ids, types, Pad, dw, dp, dt, accumulate);
            double offset = accumulate ? 0.25 : 0;
            GradCheck.AssertClose(dw.ToFloatArray(), rw.Select(x => x + offset).ToArray(), 1e-6, 1e-6, $"dWord (accumulate={accumulate})");
            GradCheck.AssertClose(dp.ToFloatArray(), rp.Select(x => x + offset).ToArray(), 1e-6, 1e-6, $"dPosition (accumulate={accumulate})");
            GradCheck.AssertClose(dt.ToFloatArray(), rt.Select(x => x + offset).ToArray(), 1e-6, 1e-6, $"dType (accumulate={accumulate})");
            Assert.That(dw.ToFloatArray().AsSpan(Pad * E, E).ToArray(), Is.All.EqualTo((float)offset), "[PAD] gets no gradient");
            Assert.That(dp.ToFloatArray().AsSpan(T * E).ToArray(), Is.All.EqualTo((float)offset), "positions ≥ T get no gradient");
        }
    }

    [Test]
    public void GradientsMatchFiniteDifferences()
    {
        var word = GradCheck.Uniform(V * E, 85);
        var position = GradCheck.Uniform(P * E, 86);
        var type = GradCheck.Uniform(K * E, 87);
        var r = GradCheck.Uniform(Ids.Length * E, 88);
        var padRow = GradCheck.ToDouble(word.AsSpan(Pad * E, E).ToArray());
        using var scope = new TensorScope();
        var (w, p, t) = (GradCheck.Leaf(word, [V, E]), GradCheck.Leaf(position, [P, E]), GradCheck.Leaf(type, [K, E]));
        var y = Ops.EmbeddingSum(w, p, t, Tensor.FromArray(Ids, [B, T]), Tensor.FromArray(Types, [B, T]), Pad);
        Assert.That(y.Shape, Is.EqualTo(new Shape(B * T, E)));
        GradCheck.BackwardWeighted(y, r);
        var (dw, dp, dt) = (GradCheck.TakeGrad(w), GradCheck.TakeGrad(p), GradCheck.TakeGrad(t));
        // [PAD]'s row is a constant of the reference (padding_idx): its finite differences are zero too.
        GradCheck.AssertGradients("EmbeddingSum", x => Reference(x[0], x[1], x[2], padRow), [word, position, type], r,
            (0, dw, "word"), (1, dp, "position"), (2, dt, "type"));
        Assert.That(dw.AsSpan(Pad * E, E).ToArray(), Is.All.EqualTo(0f), "[PAD] gets no gradient");
        Assert.That(dw.AsSpan(2 * E, E).ToArray(), Is.All.EqualTo(0f), "an unused id gets no gradient");
    }

    [Test]
    public void TiedUsesAddUp()
    {
        // Generator and discriminator embed their own inputs through one block: the tables' gradients are the sums.
        var word = GradCheck.Uniform(V * E, 89);
        var position = GradCheck.Uniform(P * E, 90);
        var type = GradCheck.Uniform(K * E, 91);
        var r = GradCheck.Uniform(Ids.Length * E, 92);
        using var scope = new TensorScope();
        var (w, p, t) = (GradCheck.Leaf(word, [V, E]), GradCheck.Leaf(position, [P, E]), GradCheck.Leaf(type, [K, E]));
        var ids = Tensor.FromArray(Ids, [B, T]);
        var types = Tensor.FromArray(Types, [B, T]);
        var once = Ops.EmbeddingSum(w, p, t, ids, types, Pad);
        GradCheck.BackwardWeighted(once, r);
        var single = (GradCheck.TakeGrad(w), GradCheck.TakeGrad(p), GradCheck.TakeGrad(t));
        var twice = Ops.Add(Ops.EmbeddingSum(w, p, t, ids, types, Pad), Ops.EmbeddingSum(w, p, t, ids, types, Pad));
        GradCheck.BackwardWeighted(twice, r);
        Assert.That(GradCheck.TakeGrad(w), Is.EqualTo(single.Item1.Select(x => 2 * x).ToArray()), "dWord of two uses");
        Assert.That(GradCheck.TakeGrad(p), Is.EqualTo(single.Item2.Select(x => 2 * x).ToArray()), "dPosition of two uses");
        Assert.That(GradCheck.TakeGrad(t), Is.EqualTo(single.Item3.Select(x => 2 * x).ToArray()), "dType of two uses");
    }

    [Test]
    public void AddsIntoAGradientTheEngineOffers()
    {
        // The word table reaches both uses through a Scale node, so its gradient is pending (and offered) when the
        // second use runs backward; the leaf position and type tables are offered the gradients their first use wrote.
        var word = GradCheck.Uniform(V * E, 93);
        var position = GradCheck.Uniform(P * E, 94);
        var type = GradCheck.Uniform(K * E, 95);
        var r = GradCheck.Uniform(Ids.Length * E, 96);
        using var scope = new TensorScope();
        var (w, p, t) = (GradCheck.Leaf(word, [V, E]), GradCheck.Leaf(position, [P, E]), GradCheck.Leaf(type, [K, E]));
        var ids = Tensor.FromArray(Ids, [B, T]);
        var types = Tensor.FromArray(Types, [B, T]);
        GradCheck.BackwardWeighted(Ops.EmbeddingSum(w, p, t, ids, types, Pad), r);
        var single = (GradCheck.TakeGrad(w), GradCheck.TakeGrad(p), GradCheck.TakeGrad(t));
        var scaled = Ops.Scale(w, 2f);
        var twice = Ops.Add(Ops.EmbeddingSum(scaled, p, t, ids, types, Pad), Ops.EmbeddingSum(scaled, p, t, ids, types, Pad));
        GradCheck.BackwardWeighted(twice, r);
        Assert.That(GradCheck.TakeGrad(w), Is.EqualTo(single.Item1.Select(x => 4 * x).ToArray()), "dWord: two uses added in place, then scaled by 2");
        Assert.That(GradCheck.TakeGrad(p), Is.EqualTo(single.Item2.Select(x => 2 * x).ToArray()), "dPosition of two uses");
        Assert.That(GradCheck.TakeGrad(t), Is.EqualTo(single.Item3.Select(x => 2 * x).ToArray()), "dType of two uses");
    }

    [Test]
    public void BadInputsAreNamedErrors()
    {
        using var scope = new TensorScope();
        var word = Tensor.Zeros([4, 3]);
        word.Name = "embeddings.word_embeddings.weight";
        var position = Tensor.Zeros([2, 3]);
        var type = Tensor.Zeros([2, 3]);
        type.Name = "embeddings.token_type_embeddings.weight";
        var zeros = Tensor.FromArray(new int[2], [1, 2]);
        var id = Assert.Throws<ArgumentOutOfRangeException>(() => Ops.EmbeddingSum(word, position, type, Tensor.FromArray([1, 4], [1, 2]), zeros));
        Assert.That(id!.Message, Does.Contain("id 4").And.Contain("position 1").And.Contain("embeddings.word_embeddings.weight"));
        var typeId = Assert.Throws<ArgumentOutOfRangeException>(() => Ops.EmbeddingSum(word, position, type, zeros, Tensor.FromArray([2, 0], [1, 2])));
        Assert.That(typeId!.Message, Does.Contain("token type id 2").And.Contain("position 0").And.Contain("embeddings.token_type_embeddings.weight"));
        var tooLong = Assert.Throws<ArgumentException>(() => Ops.EmbeddingSum(word, position, type, Tensor.FromArray(new int[3], [1, 3]), Tensor.FromArray(new int[3], [1, 3])));
        Assert.That(tooLong!.Message, Does.Contain("sequence length 3").And.Contain("2 rows of the position table"));
        var widths = Assert.Throws<ArgumentException>(() => Ops.EmbeddingSum(word, Tensor.Zeros([2, 5]), type, zeros, zeros));
        Assert.That(widths!.Message, Does.Contain("[2, 5]").And.Contain("one E"));
        var flat = Assert.Throws<ArgumentException>(() => Ops.EmbeddingSum(word, position, type, Tensor.FromArray(new int[2], [2]), Tensor.FromArray(new int[2], [2])));
        Assert.That(flat!.Message, Does.Contain("[B, T]"));
    }
}
