using System.Text.Json;

namespace Electra.Train.Reporting;

/// <summary>One logged line of a metrics.jsonl file: its step (x) and every numeric field.</summary>
public sealed record MetricsRecord(double Step, IReadOnlyDictionary<string, double> Values);

/// <summary>
/// Reads the JSON-lines metrics log that training writes (one object per logged step). Only numeric fields are
/// kept; strings, booleans, nulls and nested values are ignored so that a log can carry notes beside its numbers.
/// A record without "step" is placed at the last step seen (an evaluation logged after step N belongs at N); when
/// no record has a step the x axis is the record number.
/// </summary>
public static class MetricsLog
{
    public static IReadOnlyList<MetricsRecord> Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"metrics file {path} not found", path);

        var parsed = new List<Dictionary<string, double>>();
        int lineNumber = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            JsonDocument doc;
            try
            {
                doc = JsonDocument.Parse(line);
            }
            catch (JsonException e)
            {
                throw new FormatException($"{path}:{lineNumber}: not valid JSON ({e.Message}); each line must be one JSON object");
            }
            using (doc)
            {
                if (doc.RootElement.ValueKind != JsonValueKind.Object)
                    throw new FormatException($"{path}:{lineNumber}: expected a JSON object, found {doc.RootElement.ValueKind.ToString().ToLowerInvariant()}");
                var values = new Dictionary<string, double>(StringComparer.Ordinal);
                foreach (var p in doc.RootElement.EnumerateObject())
                    if (p.Value.ValueKind == JsonValueKind.Number && p.Value.TryGetDouble(out var v) && double.IsFinite(v))
                        values[p.Name] = v;
                parsed.Add(values);
            }
        }
        if (parsed.Count == 0) throw new FormatException($"{path}: empty; expected one JSON object per line (step, loss, lr, …)");

        bool anyStep = parsed.Any(v => v.ContainsKey("step"));
        var records = new List<MetricsRecord>(parsed.Count);
        double lastStep = 0;
        for (int i = 0; i < parsed.Count; i++)
        {
            double x = anyStep ? (parsed[i].TryGetValue("step", out var s) ? s : lastStep) : i + 1;
            lastStep = x;
            parsed[i].Remove("step");
            records.Add(new MetricsRecord(x, parsed[i]));
        }
        return records;
    }
}
