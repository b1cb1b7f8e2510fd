namespace Electra.Autograd;

/// <summary>
/// Lets a profiler see backward one recorded op at a time: while a scope from <see cref="Observe"/> is open on this
/// thread, the engine calls the observer with each node's name as soon as that node's gradients have been
/// accumulated. With no scope open (the default) backward pays nothing.
/// </summary>
public static class BackwardObserver
{
    [ThreadStatic] private static Action<string>? _nodeDone;

    internal static Action<string>? Current => _nodeDone;

    /// <summary>Calls <paramref name="nodeDone"/> after every node's backward on this thread until disposed.</summary>
    public static IDisposable Observe(Action<string> nodeDone)
    {
        ArgumentNullException.ThrowIfNull(nodeDone);
        var previous = _nodeDone;
        _nodeDone = nodeDone;
        return new Scope(previous);
    }

    private sealed class Scope(Action<string>? previous) : IDisposable
    {
        private bool _done;

        public void Dispose()
        {
            if (_done) return;
            _done = true;
            _nodeDone = previous;
        }
    }
}
