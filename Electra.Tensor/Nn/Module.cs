namespace Electra.Nn;

/// <summary>
/// A building block with named parameters and submodules. Names compose with dots in registration order, giving
/// Hugging Face style paths such as <c>encoder.layer.3.attention.self.query.weight</c>. A module owns its
/// parameters and disposes them.
/// </summary>
public abstract class Module : IDisposable
{
    private readonly List<(string name, Tensor tensor)> _parameters = new();
    private readonly List<(string name, Module module)> _children = new();

    /// <summary>Whether dropout and other training-only behaviour is on. Set with <see cref="Train"/>/<see cref="Eval"/>.</summary>
    public bool Training { get; private set; } = true;

    /// <summary>The random stream dropout draws from; shared by the whole tree (see <see cref="UseRandom"/>).</summary>
    public RandomStream? Random { get; private set; }

    protected Tensor RegisterParameter(string name, Tensor tensor)
    {
        CheckName(name);
        TensorScope.Detach(tensor);
        tensor.RequiresGrad = true;
        tensor.Name = name;
        _parameters.Add((name, tensor));
        return tensor;
    }

    protected T RegisterModule<T>(string name, T module) where T : Module
    {
        CheckName(name);
        _children.Add((name, module));
        return module;
    }

    private void CheckName(string name)
    {
        if (string.IsNullOrEmpty(name) || name.Contains('.'))
            throw new ArgumentException($"'{name}' is not a valid parameter or module name (non-empty, no dots)");
        if (_parameters.Any(p => p.name == name) || _children.Any(c => c.name == name))
            throw new ArgumentException($"{GetType().Name}: '{name}' is registered twice");
    }

    /// <summary>Every parameter with its full dotted name, depth first, in registration order.</summary>
    public IEnumerable<(string Name, Tensor Tensor)> NamedParameters(string prefix = "")
    {
        foreach (var (name, t) in _parameters) yield return (prefix + name, t);
        foreach (var (name, m) in _children)
            foreach (var p in m.NamedParameters(prefix + name + ".")) yield return p;
    }

    public IEnumerable<Tensor> Parameters() => NamedParameters().Select(p => p.Tensor);

    public IEnumerable<(string Name, Module Module)> NamedModules(string prefix = "")
    {
        foreach (var (name, m) in _children)
        {
            yield return (prefix + name, m);
            foreach (var sub in m.NamedModules(prefix + name + ".")) yield return sub;
        }
    }

    public long ParameterCount() => Parameters().Distinct(ReferenceEqualityComparer.Instance).Cast<Tensor>().Sum(t => t.Count);

    public void Train(bool on = true)
    {
        Training = on;
        foreach (var (_, m) in _children) m.Train(on);
    }

    public void Eval() => Train(false);

    /// <summary>Gives this module and all below it the random stream their dropout draws from.</summary>
    public void UseRandom(RandomStream? random)
    {
        Random = random;
        foreach (var (_, m) in _children) m.UseRandom(random);
    }

    /// <summary>Clears accumulated gradients of every parameter.</summary>
    public void ZeroGrad()
    {
        foreach (var p in Parameters())
        {
            p.Grad?.Dispose();
            p.Grad = null;
        }
    }

    public virtual void Dispose()
    {
        foreach (var (_, t) in _parameters)
        {
            t.Grad?.Dispose();
            t.Dispose();
        }
        foreach (var (_, m) in _children) m.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>Normal(0, std) values from a seeded generator, the BERT/ELECTRA initialiser.</summary>
    protected static Tensor Normal(Shape shape, float std, System.Random rng, Device device)
    {
        var data = new float[shape.Count];
        for (int i = 0; i < data.Length; i++)
        {
            // Box–Muller; the truncation ELECTRA's TF code applies (±2σ) is not used by HF's PyTorch port.
            double u1 = 1.0 - rng.NextDouble(), u2 = rng.NextDouble();
            data[i] = (float)(std * Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
        }
        return Tensor.FromArray(data, shape, device);
    }
}
