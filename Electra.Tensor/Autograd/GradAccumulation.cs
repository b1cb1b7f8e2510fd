namespace Electra.Autograd;

/// <summary>
/// While a node's backward runs, the engine may offer, for an input whose producer already has a gradient pending
/// that nothing else holds, that gradient as the place to add into. A backward whose last step can accumulate for
/// free (a GEMM with β = 1) takes it and returns it as that input's gradient: the engine then skips the separate
/// sum, a read and write of the whole tensor. A backward that ignores the offer is unaffected.
/// </summary>
public static class GradAccumulation
{
    [ThreadStatic] private static Tensor[]? _inputs;
    [ThreadStatic] private static Tensor?[]? _targets;

    /// <summary>
    /// The gradient offered for <paramref name="input"/> (add into it and return it), or null: write a fresh one. For
    /// an intermediate it is the gradient pending from its other uses; for a leaf (a parameter) its gradient so far.
    /// </summary>
    public static Tensor? TargetFor(Tensor input)
    {
        if (_inputs is null) return null;
        for (int i = 0; i < _inputs.Length; i++)
            if (ReferenceEquals(_inputs[i], input)) return _targets![i];
        return null;
    }

    internal static Scope Offer(Tensor[] inputs, Tensor?[] targets)
    {
        var previous = (_inputs, _targets);
        (_inputs, _targets) = (inputs, targets);
        return new Scope(previous);
    }

    internal readonly struct Scope((Tensor[]?, Tensor?[]?) previous) : IDisposable
    {
        public void Dispose() => (_inputs, _targets) = previous;
    }
}
