namespace Electra;

/// <summary>
/// Disposes every tensor created on this thread while it is the innermost open scope, except the ones kept with
/// <see cref="Keep"/> (which move to the enclosing scope, or to nobody at the outermost level). A training step
/// runs inside one scope: activations, saved tensors and temporary gradients are released when it closes, while
/// parameters, their gradients and optimizer state, created outside, live on.
/// </summary>
public sealed class TensorScope : IDisposable
{
    [ThreadStatic] private static TensorScope? _current;

    private readonly TensorScope? _parent;
    private readonly List<Tensor> _owned = new();
    private bool _disposed;

    public TensorScope()
    {
        _parent = _current;
        _current = this;
    }

    internal static TensorScope? Current => _current;

    public int Count => _owned.Count;

    internal void Add(Tensor t)
    {
        _owned.Add(t);
        t.Scope = this;
    }

    /// <summary>Keeps <paramref name="t"/> alive past this scope: it moves to the enclosing scope, if any.</summary>
    public static Tensor Keep(Tensor t)
    {
        var scope = t.Scope;
        if (scope is null) return t;
        t.Scope = null;
        scope._parent?.Add(t);
        return t;
    }

    /// <summary>Removes a tensor from every scope: its owner (a module, an optimizer) disposes it.</summary>
    public static Tensor Detach(Tensor t)
    {
        t.Scope = null;
        return t;
    }

    /// <summary>Runs <paramref name="create"/> with no scope open, for long-lived tensors made during a step.</summary>
    public static T Outside<T>(Func<T> create)
    {
        var saved = _current;
        _current = null;
        try { return create(); }
        finally { _current = saved; }
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        if (_current != this)
            throw new InvalidOperationException("TensorScope disposed out of order: close inner scopes first");
        _current = _parent;
        foreach (var t in _owned)
            if (ReferenceEquals(t.Scope, this)) t.Dispose();
        _owned.Clear();
    }
}
