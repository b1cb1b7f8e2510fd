using System.Globalization;

namespace Electra.Train.Experiments;

/// <summary>What a progress report is about.</summary>
public enum ProgressPhase
{
    Started,
    Skipped,
    Step,
    Finished,
}

/// <summary>
/// One report of the experiment: which sub-run (Index of Count, 1-based), what happened, that sub-run's own line,
/// and the whole experiment's share done and time left (null until a rate has been measured).
/// </summary>
public sealed record ExperimentProgress(int Index, int Count, SubRun Run, ProgressPhase Phase, string Line, double Done, TimeSpan? Eta)
{
    public override string ToString()
    {
        var eta = Eta is { } t ? $"ETA {Format(t)}" : "ETA —";
        return $"[{Index}/{Count} {Run.Name}] {Line} | overall {Math.Floor(Done * 100).ToString(CultureInfo.InvariantCulture)}% · {eta}";
    }

    public static string Format(TimeSpan t) => t.TotalHours >= 1 ? $"{(int)t.TotalHours}h{t.Minutes:D2}m" : $"{t.Minutes}m{t.Seconds:D2}s";
}

/// <summary>
/// The experiment's work in estimated FLOPs per sub-run, and the time left at the rates measured in this process.
/// Pretraining and fine-tuning run at different FLOP rates (one big vocabulary product per step against many short
/// sequences), so each kind has its own rate; until a kind has been timed it borrows the other's.
/// </summary>
public sealed class WorkEstimate
{
    private readonly double[] _total, _done;
    private readonly bool[] _isPretrain;
    private readonly double[] _measuredFlops = new double[2], _measuredSeconds = new double[2];
    private int _current = -1;
    private double _currentFlops, _currentSeconds;

    public WorkEstimate(IReadOnlyList<(double Flops, bool Pretrain)> subRuns)
    {
        _total = subRuns.Select(s => s.Flops).ToArray();
        _done = new double[_total.Length];
        _isPretrain = subRuns.Select(s => s.Pretrain).ToArray();
    }

    public double TotalFlops => _total.Sum();

    /// <summary>A sub-run found finished (or partly finished) without being run now: its work counts as done, untimed.</summary>
    public void MarkDone(int index, double flops) => _done[index] = Math.Min(flops, _total[index]);

    /// <summary>The sub-run now running has done <paramref name="flops"/> in <paramref name="seconds"/> since this process started it.</summary>
    public void Progress(int index, double doneBefore, double flops, double seconds)
    {
        if (index != _current) EndCurrent();
        _current = index;
        _currentFlops = flops;
        _currentSeconds = seconds;
        _done[index] = Math.Min(doneBefore + flops, _total[index]);
    }

    /// <summary>Folds the running sub-run's measurement into its kind's rate.</summary>
    public void EndCurrent()
    {
        if (_current < 0) return;
        int kind = _isPretrain[_current] ? 0 : 1;
        _measuredFlops[kind] += _currentFlops;
        _measuredSeconds[kind] += _currentSeconds;
        _current = -1;
        _currentFlops = _currentSeconds = 0;
    }

    public double Fraction => TotalFlops > 0 ? _done.Sum() / TotalFlops : 1;

    /// <summary>FLOP/s of pretraining (true) or fine-tuning (false) so far, or null when neither has been timed.</summary>
    public double? Rate(bool pretrain)
    {
        double? Measured(int kind)
        {
            double f = _measuredFlops[kind], s = _measuredSeconds[kind];
            if (_current >= 0 && (_isPretrain[_current] ? 0 : 1) == kind) { f += _currentFlops; s += _currentSeconds; }
            return s > 0 && f > 0 ? f / s : null;
        }
        return Measured(pretrain ? 0 : 1) ?? Measured(pretrain ? 1 : 0);
    }

    public TimeSpan? Eta
    {
        get
        {
            double seconds = 0;
            for (int i = 0; i < _total.Length; i++)
            {
                double left = _total[i] - _done[i];
                if (left <= 0) continue;
                if (Rate(_isPretrain[i]) is not double rate) return null;
                seconds += left / rate;
            }
            return TimeSpan.FromSeconds(seconds);
        }
    }
}
