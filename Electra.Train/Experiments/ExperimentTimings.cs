using System.Text.Json;

namespace Electra.Train.Experiments;

/// <summary>
/// timings.json in the experiment folder: wall seconds per sub-run, summed over every process that worked on it, so
/// a resumed pretraining run reports its whole time. Saved as each sub-run goes; a process killed outright loses
/// only the time since its last save.
/// </summary>
public sealed class ExperimentTimings
{
    public const string FileName = "timings.json";
    private readonly string _path;
    private readonly SortedDictionary<string, double> _seconds;

    public ExperimentTimings(string dir)
    {
        _path = Path.Combine(dir, FileName);
        _seconds = new SortedDictionary<string, double>(StringComparer.Ordinal);
        if (!File.Exists(_path)) return;
        try
        {
            foreach (var (k, v) in JsonSerializer.Deserialize<Dictionary<string, double>>(File.ReadAllText(_path)) ?? [])
                _seconds[k] = v;
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{_path}: not valid JSON ({e.Message}); delete it to drop the recorded wall times");
        }
    }

    public double? this[string subRun] => _seconds.TryGetValue(subRun, out var s) ? s : null;

    public void Set(string subRun, double seconds)
    {
        _seconds[subRun] = seconds;
        File.WriteAllText(_path + ".tmp", JsonSerializer.Serialize(_seconds, new JsonSerializerOptions { WriteIndented = true }) + "\n");
        File.Move(_path + ".tmp", _path, overwrite: true);
    }

    /// <summary>Forgets a sub-run that starts over.</summary>
    public void Remove(string subRun)
    {
        if (_seconds.ContainsKey(subRun)) Set(subRun, 0);
    }
}
