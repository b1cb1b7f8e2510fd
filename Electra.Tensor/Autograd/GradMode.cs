namespace Electra.Autograd;

/// <summary>Whether ops record the graph on this thread. <c>using var _ = GradMode.NoGrad();</c> turns it off.</summary>
public static class GradMode
{
    [ThreadStatic] private static int _disabled;

    public static bool IsEnabled => _disabled == 0;

    public static IDisposable NoGrad() => new Disabler();

    private sealed class Disabler : IDisposable
    {
        private bool _done;

        public Disabler() => _disabled++;

        public void Dispose()
        {
            if (_done) return;
            _done = true;
            _disabled--;
        }
    }
}
