using System.Text.Json;
using System.Text.Json.Nodes;
using Electra.Train.Glue;

namespace Electra.Train.Experiments;

/// <summary>
/// One finished fine-tuning sub-run, as its result.json holds it: the dev metrics after every epoch. The score the
/// experiment reports is the last epoch's (no choice made on the dev set); the best epoch is kept beside it.
/// </summary>
public sealed record FineTuneRecord(string Source, string Task, ulong Seed, IReadOnlyList<IReadOnlyList<GlueMetric>> PerEpoch, long Steps,
    int TrainExamples, int DevExamples, double WallSeconds)
{
    public const string FileName = "result.json";

    public IReadOnlyList<GlueMetric> Final => PerEpoch[^1];
    public double FinalScore => GlueMetrics.MainScore(Final);
    public int BestEpoch => Enumerable.Range(0, PerEpoch.Count).OrderByDescending(e => Score(e)).ThenBy(e => e).First() + 1;
    public double BestScore => Score(BestEpoch - 1);

    private double Score(int epoch)
    {
        var s = GlueMetrics.MainScore(PerEpoch[epoch]);
        return double.IsNaN(s) ? double.NegativeInfinity : s;
    }

    public JsonObject ToJson()
    {
        static JsonObject Metrics(IReadOnlyList<GlueMetric> ms)
        {
            var o = new JsonObject();
            foreach (var m in ms) o[m.Name] = double.IsFinite(m.Value) ? m.Value : null;
            return o;
        }
        return new JsonObject
        {
            ["source"] = Source,
            ["task"] = Task,
            ["seed"] = Seed,
            ["steps"] = Steps,
            ["train_examples"] = TrainExamples,
            ["dev_examples"] = DevExamples,
            ["wall_s"] = Math.Round(WallSeconds, 1),
            ["per_epoch"] = new JsonArray(PerEpoch.Select(e => (JsonNode)Metrics(e)).ToArray()),
        };
    }

    /// <summary>Written beside the run's own files, last, so its presence means the run finished.</summary>
    public void Save(string dir)
    {
        var path = Path.Combine(dir, FileName);
        File.WriteAllText(path + ".tmp", ToJson().ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
        File.Move(path + ".tmp", path, overwrite: true);
    }

    public static FineTuneRecord Load(string dir)
    {
        var path = Path.Combine(dir, FileName);
        try
        {
            var o = JsonNode.Parse(File.ReadAllText(path)) as JsonObject ?? throw new InvalidDataException($"{path}: expected a JSON object");
            T Field<T>(string key) => o[key] is JsonValue v && v.TryGetValue<T>(out var x) ? x
                : throw new InvalidDataException($"{path}: '{key}' is missing or not a {typeof(T).Name}; delete {dir} to run it again");
            var epochs = new List<IReadOnlyList<GlueMetric>>();
            foreach (var e in o["per_epoch"] as JsonArray ?? [])
                epochs.Add((e as JsonObject ?? []).Select(p => new GlueMetric(p.Key, p.Value is JsonValue v && v.TryGetValue<double>(out var x) ? x : double.NaN)).ToList());
            if (epochs.Count == 0 || epochs.Any(e => e.Count == 0))
                throw new InvalidDataException($"{path}: per_epoch holds no dev metrics; delete {dir} to run it again");
            return new FineTuneRecord(Field<string>("source"), Field<string>("task"), Field<ulong>("seed"), epochs, Field<long>("steps"),
                Field<int>("train_examples"), Field<int>("dev_examples"), Field<double>("wall_s"));
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not valid JSON ({e.Message}); delete {dir} to run it again", e);
        }
    }
}
