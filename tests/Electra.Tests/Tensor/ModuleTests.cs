using Electra.Nn;

namespace Electra.Tests.Tensor;

using Tensor = Electra.Tensor;

public class ModuleTests
{
    private sealed class Block : Module
    {
        public Block()
        {
            Dense = RegisterModule("dense", new Linear(4, 4));
            Norm = RegisterModule("LayerNorm", new LayerNorm(4));
            Drop = RegisterModule("dropout", new Dropout(0.5f));
        }

        public Linear Dense { get; }
        public LayerNorm Norm { get; }
        public Dropout Drop { get; }
    }

    private sealed class Stack : Module
    {
        public Stack(int n)
        {
            for (int i = 0; i < n; i++) Blocks.Add(RegisterModule(i.ToString(), new Block()));
        }

        public List<Block> Blocks { get; } = [];
    }

    private sealed class Encoder : Module
    {
        public Encoder() => Layer = RegisterModule("layer", new Stack(2));

        public Stack Layer { get; }
    }

    /// <summary>A tree shaped like a BERT body, with a head that ties its weight to the word embeddings.</summary>
    private sealed class Model : Module
    {
        public Model()
        {
            Embeddings = RegisterModule("embeddings", new Embedding(10, 4));
            Encoder = RegisterModule("encoder", new Encoder());
            Head = RegisterModule("head", new TiedHead(Embeddings.Weight));
        }

        public Embedding Embeddings { get; }
        public Encoder Encoder { get; }
        public TiedHead Head { get; }
    }

    private sealed class TiedHead : Module
    {
        public TiedHead(Tensor tied)
        {
            RegisterParameter("weight", tied);
            RegisterParameter("bias", Tensor.Zeros([10]));
        }
    }

    [Test]
    public void ParametersHaveHierarchicalNamesInRegistrationOrder()
    {
        using var model = new Model();
        string[] block = ["dense.weight", "dense.bias", "LayerNorm.weight", "LayerNorm.bias"];
        var expected = new[] { "embeddings.weight" }
            .Concat(block.Select(n => "encoder.layer.0." + n))
            .Concat(block.Select(n => "encoder.layer.1." + n))
            .Concat(["head.weight", "head.bias"]);
        Assert.That(model.NamedParameters().Select(p => p.Name), Is.EqualTo(expected));
        Assert.That(model.NamedModules().Select(m => m.Name), Is.EqualTo(new[]
        {
            "embeddings", "encoder", "encoder.layer", "encoder.layer.0", "encoder.layer.0.dense", "encoder.layer.0.LayerNorm",
            "encoder.layer.0.dropout", "encoder.layer.1", "encoder.layer.1.dense", "encoder.layer.1.LayerNorm",
            "encoder.layer.1.dropout", "head",
        }));
        Assert.That(model.Encoder.NamedParameters("encoder.").First().Name, Is.EqualTo("encoder.layer.0.dense.weight"));
        Assert.That(model.Parameters(), Is.All.Matches<Tensor>(p => p.RequiresGrad));
    }

    [Test]
    public void ParameterCountCountsTiedWeightsOnce()
    {
        using var model = new Model();
        // embeddings 10·4; per block dense 4·4 + 4, LayerNorm 4 + 4; head bias 10 (its weight is the embeddings').
        Assert.That(model.ParameterCount(), Is.EqualTo(40 + 2 * (16 + 4 + 4 + 4) + 10));
        Assert.That(model.Parameters().Count(), Is.EqualTo(11), "Parameters() lists the tied weight under both names");
    }

    [Test]
    public void InitialValuesFollowBert()
    {
        using var linear = new Linear(256, 128, rng: new Random(5));
        var w = linear.Weight.ToFloatArray();
        double mean = w.Average(), std = Math.Sqrt(w.Average(v => (v - mean) * (v - mean)));
        // 32768 draws of N(0, 0.02): the sample std is within 1% of 0.02 with overwhelming probability.
        Assert.That(std, Is.EqualTo(0.02).Within(0.0004));
        Assert.That(mean, Is.EqualTo(0).Within(0.0005));
        Assert.That(linear.Bias!.ToFloatArray(), Is.All.EqualTo(0f));
        using var norm = new LayerNorm(8);
        Assert.That(norm.Weight.ToFloatArray(), Is.All.EqualTo(1f));
        Assert.That(norm.Bias.ToFloatArray(), Is.All.EqualTo(0f));
        Assert.That(norm.Eps, Is.EqualTo(1e-12f));
    }

    [Test]
    public void TrainAndEvalToggleDropoutThroughTheTree()
    {
        using var model = new Model();
        var drop = model.Encoder.Layer.Blocks[1].Drop;
        using var scope = new TensorScope();
        var x = Tensor.Ones([64]);
        Assert.That(drop.Training, Is.True, "modules start in training mode");
        Assert.That(drop.Forward(x), Is.SameAs(x), "no random stream yet: dropout cannot draw, so it is the identity");

        model.UseRandom(new RandomStream(3));
        var dropped = drop.Forward(x).ToFloatArray();
        Assert.That(dropped, Has.Some.EqualTo(0f).And.Some.EqualTo(2f));

        model.Eval();
        Assert.That(model.NamedModules().Select(m => m.Module.Training), Is.All.False);
        Assert.That(drop.Forward(x), Is.SameAs(x));

        model.Train();
        Assert.That(model.NamedModules().Select(m => m.Module.Training), Is.All.True);
        Assert.That(drop.Forward(x).ToFloatArray(), Has.Some.EqualTo(0f));
    }

    [Test]
    public void ZeroGradClearsEveryGradient()
    {
        using var model = new Model();
        using (var scope = new TensorScope())
        {
            var ids = Tensor.FromArray([1, 2, 3], [1, 3]);
            var h = model.Encoder.Layer.Blocks[0].Dense.Forward(model.Embeddings.Forward(ids));
            Ops.Sum(h).Backward();
        }
        Assert.That(model.Embeddings.Weight.Grad, Is.Not.Null);
        model.ZeroGrad();
        Assert.That(model.Parameters().Select(p => p.Grad), Is.All.Null);
    }

    private sealed class BadNames : Module
    {
        public void Add(string name) => RegisterParameter(name, Tensor.Zeros([1]));
    }

    [Test]
    public void InvalidOrDuplicateNamesAreRejected()
    {
        using var m = new BadNames();
        Assert.Throws<ArgumentException>(() => m.Add("a.b"));
        Assert.Throws<ArgumentException>(() => m.Add(""));
        m.Add("w");
        var ex = Assert.Throws<ArgumentException>(() => m.Add("w"));
        Assert.That(ex!.Message, Does.Contain("'w'").And.Contain("twice"));
    }
}
