using Electra.Optim;

namespace Electra.Tests.Tensor;

using Tensor = Electra.Tensor;

public class AdamWTests
{
    private static readonly float[] P0 = [1f, -2f, 0.5f];
    private static readonly float[][] Grads = [[0.1f, -0.2f, 0.3f], [-0.05f, 0.4f, 0.3f], [0.2f, 0f, -0.1f]];
    private const float Lr = 0.01f, Wd = 0.01f;

    /// <summary>Runs the optimizer on one 3-element parameter with the fixed gradients; returns p after each step.</summary>
    private static float[][] Run(bool biasCorrection, float weightDecay, int steps)
    {
        using var p = Tensor.FromArray((float[])P0.Clone());
        p.RequiresGrad = true;
        using var opt = new AdamW([new ParamGroup([("w", p)], weightDecay)], biasCorrection: biasCorrection);
        var trace = new float[steps][];
        for (int s = 0; s < steps; s++)
        {
            p.Grad = Tensor.FromArray(Grads[s]);
            opt.Step(Lr);
            p.Grad.Dispose();
            p.Grad = null;
            trace[s] = p.ToFloatArray();
        }
        Assert.That(opt.StepCount, Is.EqualTo(steps));
        return trace;
    }

    /// <summary>The documented update in double: m, v moments; optional bias correction; decoupled decay.</summary>
    private static double[][] Reference(bool biasCorrection, double weightDecay, int steps)
    {
        // The float constants the optimizer is given, widened exactly.
        const double b1 = 0.9f, b2 = 0.999f, eps = 1e-6f;
        var p = P0.Select(v => (double)v).ToArray();
        var m = new double[3];
        var v = new double[3];
        var trace = new double[steps][];
        for (int s = 1; s <= steps; s++)
        {
            for (int i = 0; i < 3; i++)
            {
                double g = Grads[s - 1][i];
                m[i] = b1 * m[i] + (1 - b1) * g;
                v[i] = b2 * v[i] + (1 - b2) * g * g;
                double mh = biasCorrection ? m[i] / (1 - Math.Pow(b1, s)) : m[i];
                double vh = biasCorrection ? v[i] / (1 - Math.Pow(b2, s)) : v[i];
                p[i] -= Lr * (mh / (Math.Sqrt(vh) + eps) + weightDecay * p[i]);
            }
            trace[s - 1] = (double[])p.Clone();
        }
        return trace;
    }

    [Test]
    public void FirstStepMatchesHandComputedValues()
    {
        // With bias correction m̂ = g, v̂ = g²: p −= lr·(g/(|g| + ε) + wd·p), e.g. 1 − 0.01·(0.1/0.100001 + 0.01).
        Assert.That(Run(true, Wd, 1)[0], Is.EqualTo(new[] { 0.9899001f, -1.9898000f, 0.4899500f }).Within(2e-7f));
        // ELECTRA's Adam (no correction): m = 0.1·g, v = 0.001·g², so the step is ≈ √10 times larger. The optimizer
        // takes β2 as the float 0.999f = 0.99900001287, so 1 − β2 is 1.3e-5 below 0.001 and the step 6e-6 above
        // what exact decimals give (0.9682872 for the first element): the values here use the float constants.
        Assert.That(Run(false, Wd, 1)[0], Is.EqualTo(new[] { 0.9682870f, -1.9681820f, 0.4683303f }).Within(2e-7f));
    }

    [TestCase(true, Wd)]
    [TestCase(false, Wd)]
    [TestCase(false, 0f)]
    public void ThreeStepsMatchTheDocumentedUpdate(bool biasCorrection, float weightDecay)
    {
        var ours = Run(biasCorrection, weightDecay, 3);
        var reference = Reference(biasCorrection, weightDecay, 3);
        for (int s = 0; s < 3; s++)
            GradCheck.AssertClose(ours[s], reference[s], 2e-7, 2e-7, $"AdamW step {s + 1}");
    }

    [Test]
    public void DefaultGroupsExemptLayerNormAndBiasFromDecay()
    {
        string[] names =
        [
            "embeddings.word_embeddings.weight", "embeddings.LayerNorm.weight", "embeddings.LayerNorm.bias",
            "encoder.layer.0.attention.self.query.weight", "encoder.layer.0.attention.self.query.bias",
            "generator_predictions.layer_norm.weight",
        ];
        var ps = names.Select(_ => Tensor.FromArray([2f, -4f])).ToArray();
        try
        {
            var groups = AdamW.DefaultGroups(names.Zip(ps));
            Assert.That(groups[0].WeightDecay, Is.EqualTo(0.01f));
            Assert.That(groups[0].Params.Select(p => p.Name), Is.EqualTo(new[] { names[0], names[3] }));
            Assert.That(groups[1].WeightDecay, Is.EqualTo(0f));
            Assert.That(groups[1].Params.Select(p => p.Name), Is.EquivalentTo(new[] { names[1], names[2], names[4], names[5] }));

            // With zero gradients Adam's term vanishes, leaving only the decoupled decay: p ← p·(1 − lr·wd).
            foreach (var p in ps) p.Grad = Tensor.Zeros([2]);
            using var opt = new AdamW(groups);
            opt.Step(0.5f);
            for (int i = 0; i < ps.Length; i++)
            {
                float factor = i is 0 or 3 ? 1f - 0.5f * 0.01f : 1f;
                Assert.That(ps[i].ToFloatArray(), Is.EqualTo(new[] { 2f * factor, -4f * factor }).Within(1e-7f), names[i]);
            }
        }
        finally
        {
            foreach (var p in ps) { p.Grad?.Dispose(); p.Dispose(); }
        }
    }

    [Test]
    public void LrScaleTiedParametersAndMissingGradients()
    {
        using var a = Tensor.FromArray([1f]);
        using var b = Tensor.FromArray([1f]);
        using var c = Tensor.FromArray([1f]);
        a.Grad = Tensor.Zeros([1]);
        b.Grad = Tensor.Zeros([1]);
        try
        {
            // a appears in two groups (tied weights): it must be stepped once, with its first group's settings.
            using var opt = new AdamW([new ParamGroup([("a", a), ("c", c)], 0.1f), new ParamGroup([("b", b), ("a2", a)], 0.1f, LrScale: 0.5f)]);
            Assert.That(opt.Params, Has.Count.EqualTo(3));
            opt.Step(1f);
            Assert.That(a.Item(), Is.EqualTo(0.9f).Within(1e-7f));
            Assert.That(b.Item(), Is.EqualTo(0.95f).Within(1e-7f), "the group's LR scale");
            Assert.That(c.Item(), Is.EqualTo(1f), "no gradient, no step");
        }
        finally
        {
            a.Grad.Dispose();
            b.Grad.Dispose();
        }
    }

    [Test]
    public void ClipGlobalNormReportsTheNormAndScalesOnlyAboveIt()
    {
        using var a = Tensor.Zeros([2]);
        using var b = Tensor.Zeros([1]);
        try
        {
            a.Grad = Tensor.FromArray([3f, 4f]);
            b.Grad = Tensor.FromArray([12f]);
            // a is listed twice: its gradient counts once. √(9 + 16 + 144) = 13.
            using (var norm = GradClip.ClipGlobalNorm([a, b, a], 100f))
                Assert.That(norm.Item(), Is.EqualTo(13f));
            Assert.That(a.Grad.ToFloatArray(), Is.EqualTo(new[] { 3f, 4f }), "below the limit nothing changes");
            using (var norm = GradClip.ClipGlobalNorm([a, b], 1f))
                Assert.That(norm.Item(), Is.EqualTo(13f), "the norm before clipping");
            Assert.That(a.Grad.ToFloatArray(), Is.EqualTo(new[] { 3f / 13, 4f / 13 }).Within(1e-7f));
            Assert.That(b.Grad.ToFloatArray(), Is.EqualTo(new[] { 12f / 13 }).Within(1e-7f));
            using (var norm = GradClip.ClipGlobalNorm([a, b], 1f))
                Assert.That(norm.Item(), Is.EqualTo(1f).Within(1e-6f));
        }
        finally
        {
            a.Grad?.Dispose();
            b.Grad?.Dispose();
            a.Grad = b.Grad = null;
        }
        Assert.Throws<InvalidOperationException>(() => GradClip.ClipGlobalNorm([a], 1f));
    }

    [Test]
    public void MismatchedGradientIsANamedErrorAndChangesNothing()
    {
        using var a = Tensor.FromArray([1f, 2f]);
        using var b = Tensor.FromArray([3f, 4f]);
        a.Name = "dense.weight";
        b.Name = "dense.bias";
        using var opt = new AdamW([new ParamGroup([("dense.bias", b), ("dense.weight", a)], 0.01f)]);
        b.Grad = Tensor.FromArray([1f, 1f]);
        a.Grad = Tensor.FromArray([1f, 1f, 1f]);
        try
        {
            var ex = Assert.Throws<ArgumentException>(() => opt.Step(0.1f));
            Assert.That(ex!.Message, Does.Contain("dense.weight").And.Contain("[3]"));
            Assert.That(b.ToFloatArray(), Is.EqualTo(new[] { 3f, 4f }), "no parameter was stepped");
        }
        finally
        {
            a.Grad.Dispose();
            b.Grad.Dispose();
        }
    }
}
