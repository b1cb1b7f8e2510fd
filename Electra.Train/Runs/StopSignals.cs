using System.Runtime.InteropServices;

namespace Electra.Train.Runs;

/// <summary>
/// Ctrl-C (SIGINT) and SIGTERM, the signal schedulers and <c>kill</c> send, both turned into a cancellation so the
/// loop finishes its step and saves instead of the process dying mid-write. A second signal is not intercepted
/// again, so a stuck run can still be stopped.
/// </summary>
public sealed class StopSignals : IDisposable
{
    private readonly CancellationTokenSource _cancel = new();
    private readonly PosixSignalRegistration? _term;
    private int _count;

    public StopSignals()
    {
        Console.CancelKeyPress += OnCancelKeyPress;
        if (!OperatingSystem.IsWindows()) _term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnTerm);
    }

    public CancellationToken Token => _cancel.Token;

    /// <summary>The signal that asked to stop: "SIGINT" or "SIGTERM"; null while none has.</summary>
    public string? Received { get; private set; }

    /// <summary>The conventional exit code of a run stopped by <see cref="Received"/>: 128 + the signal number.</summary>
    public int ExitCode => Received == "SIGTERM" ? 143 : 130;

    private void OnCancelKeyPress(object? sender, ConsoleCancelEventArgs e) => e.Cancel = Stop("SIGINT");

    private void OnTerm(PosixSignalContext context) => context.Cancel = Stop("SIGTERM");

    /// <summary>True (keep running, we will stop ourselves) for the first signal; false lets the second one kill.</summary>
    private bool Stop(string signal)
    {
        if (Interlocked.Increment(ref _count) > 1) return false;
        Received = signal;
        _cancel.Cancel();
        return true;
    }

    public void Dispose()
    {
        Console.CancelKeyPress -= OnCancelKeyPress;
        _term?.Dispose();
        _cancel.Dispose();
    }
}
