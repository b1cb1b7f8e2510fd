namespace Electra.Nn;

/// <summary>An ordered list of submodules named "0", "1", …, as in <c>encoder.layer.3</c>.</summary>
public sealed class ModuleList<T> : Module where T : Module
{
    private readonly List<T> _items = new();

    public ModuleList(IEnumerable<T> items)
    {
        foreach (var item in items)
        {
            RegisterModule(_items.Count.ToString(System.Globalization.CultureInfo.InvariantCulture), item);
            _items.Add(item);
        }
    }

    public int Count => _items.Count;
    public T this[int index] => _items[index];
    public IEnumerator<T> GetEnumerator() => _items.GetEnumerator();
}

/// <summary>A module that only holds parameters given to it by name (e.g. HF's <c>generator_lm_head.bias</c>).</summary>
public sealed class ParameterHolder : Module
{
    public Tensor Add(string name, Tensor tensor) => RegisterParameter(name, tensor);
}
