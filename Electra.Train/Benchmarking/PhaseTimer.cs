using System.Diagnostics;

namespace Electra.Train.Benchmarking;

/// <summary>
/// Splits steps into phases by synchronising the device at every boundary and reading a stopwatch. The waits
/// serialise host and device, so phase times add up to more than an unsplit step; they show where time goes,
/// not how fast a step is. A phase that ends several times within one step (every Linear node of a backward
/// pass) counts once per step, with the sum of its pieces.
/// </summary>
public sealed class PhaseTimer(IBackend backend)
{
    private readonly Stopwatch _clock = new();
    private readonly List<string> _order = [];
    private readonly Dictionary<string, List<double>> _times = new();
    private readonly Dictionary<string, double> _step = new();

    /// <summary>Begins a step: waits for queued work so the first phase is not charged for it.</summary>
    public void Start()
    {
        Flush();
        backend.Synchronize();
        _clock.Restart();
    }

    /// <summary>Ends <paramref name="phase"/>: waits for its device work, adds the time since the last boundary.</summary>
    public void End(string phase)
    {
        backend.Synchronize();
        double ms = _clock.Elapsed.TotalMilliseconds;
        if (!_times.ContainsKey(phase))
        {
            _times[phase] = [];
            _order.Add(phase);
        }
        _step[phase] = _step.GetValueOrDefault(phase) + ms;
        _clock.Restart();
    }

    /// <summary>Median over steps of each phase's milliseconds per step, in the order the phases first ended.</summary>
    public IReadOnlyList<(string Phase, double MedianMs)> Medians()
    {
        Flush();
        return _order.Select(p => (p, Median(_times[p]))).ToList();
    }

    private void Flush()
    {
        foreach (var (phase, ms) in _step) _times[phase].Add(ms);
        _step.Clear();
    }

    public static double Median(IReadOnlyList<double> values)
    {
        if (values.Count == 0) throw new ArgumentException("Median of no values");
        var sorted = values.Order().ToArray();
        int n = sorted.Length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }
}
