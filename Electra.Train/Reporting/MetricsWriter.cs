using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;

namespace Electra.Train.Reporting;

/// <summary>
/// metrics.jsonl: one JSON object per logged step. Opening it for a resumed run drops the lines at or after the
/// resume step, so a step logged before a crash but after the last checkpoint is not listed twice.
/// </summary>
public sealed class MetricsWriter : IDisposable
{
    private readonly StreamWriter _writer;

    public MetricsWriter(string path, long resumeStep)
    {
        Path = path;
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!);
        if (resumeStep > 0 && File.Exists(path))
        {
            var kept = File.ReadAllLines(path).Where(line =>
            {
                try { return (JsonNode.Parse(line)?["step"]?.GetValue<long>() ?? long.MaxValue) < resumeStep; }
                catch (System.Text.Json.JsonException) { return false; }
            }).ToList();
            File.WriteAllLines(path, kept);
        }
        else if (resumeStep == 0 && File.Exists(path))
        {
            File.Delete(path);
        }
        _writer = new StreamWriter(path, append: true, new UTF8Encoding(false)) { AutoFlush = true };
    }

    public string Path { get; }

    public void Write(IReadOnlyDictionary<string, double> values)
    {
        var o = new JsonObject();
        foreach (var (k, v) in values)
            o[k] = double.IsFinite(v) ? JsonValue.Create(Math.Round(v, 6)) : null;
        _writer.WriteLine(o.ToJsonString());
    }

    public void Dispose() => _writer.Dispose();

    public static string Format(double v) => v.ToString("G5", CultureInfo.InvariantCulture);
}
