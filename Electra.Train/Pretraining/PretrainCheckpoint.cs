using System.Text.Json;
using System.Text.Json.Nodes;
using Electra.IO;
using Electra.Model;
using Electra.Model.Checkpoints;
using Electra.Optim;

namespace Electra.Train.Pretraining;

/// <summary>Where a run stands: enough, with the weights and optimizer state, to continue it exactly.</summary>
public sealed record TrainerState
{
    public const int FormatVersion = 1;

    public int Format { get; init; } = FormatVersion;

    /// <summary>Steps completed; the next step to run.</summary>
    public long Step { get; init; }
    public int OptimizerSteps { get; init; }
    public int DataEpoch { get; init; }
    public int DataPosition { get; init; }
    public PretrainSettings Settings { get; init; } = new();

    public string ToJson() => JsonSerializer.Serialize(this, TrainJson.Options);

    public static TrainerState Parse(string json, string source)
    {
        try
        {
            var node = JsonNode.Parse(json) as JsonObject ?? throw new InvalidDataException($"{source}: expected a JSON object");
            int format = node["format"]?.GetValue<int>() ?? -1;
            if (format != FormatVersion)
                throw new InvalidDataException($"{source}: trainer state format {format}, this version reads {FormatVersion}");
            return JsonSerializer.Deserialize<TrainerState>(json, TrainJson.Options) ?? throw new InvalidDataException($"{source}: empty state");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{source}: not a valid trainer state ({e.Message})", e);
        }
    }
}

/// <summary>
/// A pretraining checkpoint directory: <c>discriminator/</c> (ElectraForPreTraining) and <c>generator/</c>
/// (ElectraForMaskedLM) as HF model directories, and <c>trainer/</c> with the optimizer moments and the run state.
/// It is written beside its final place and renamed in, so a crash leaves either the old checkpoint or the new one,
/// never half of one.
/// </summary>
public static class PretrainCheckpoint
{
    public const string DiscriminatorDir = "discriminator";
    public const string GeneratorDir = "generator";
    public const string TrainerDir = "trainer";
    private const string OptimizerFile = "optimizer.safetensors";
    private const string StateFile = "state.json";

    public static void Save(string dir, Pretrainer model, AdamW optimizer, TrainerState state)
    {
        dir = Path.GetFullPath(dir);
        var parent = Path.GetDirectoryName(dir)!;
        Directory.CreateDirectory(parent);
        var staging = Path.Combine(parent, $".{Path.GetFileName(dir)}.tmp-{Environment.ProcessId}");
        if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
        Directory.CreateDirectory(staging);

        if (model.Discriminator is not null)
            HfCheckpoint.Save(Path.Combine(staging, DiscriminatorDir), model.Discriminator, model.DiscriminatorConfig);
        HfCheckpoint.Save(Path.Combine(staging, GeneratorDir), model.Generator, model.GeneratorConfig);
        var trainer = Path.Combine(staging, TrainerDir);
        Directory.CreateDirectory(trainer);
        var moments = optimizer.State.SelectMany(s => new[] { (s.Name + ".exp_avg", s.M), (s.Name + ".exp_avg_sq", s.V) });
        SafetensorsWriter.Write(Path.Combine(trainer, OptimizerFile), moments,
            new Dictionary<string, string> { ["optimizer_steps"] = optimizer.StepCount.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        File.WriteAllText(Path.Combine(trainer, StateFile), state.ToJson());

        // Swap in: old → .old, staging → dir, drop .old. Between the two renames the complete old copy remains.
        var old = dir + ".old";
        if (Directory.Exists(old)) Directory.Delete(old, recursive: true);
        if (Directory.Exists(dir)) Directory.Move(dir, old);
        Directory.Move(staging, dir);
        if (Directory.Exists(old)) Directory.Delete(old, recursive: true);
    }

    /// <summary>The checkpoint directory to read: <paramref name="dir"/>, or its ".old" twin if a swap was interrupted.</summary>
    public static string Locate(string dir)
    {
        if (File.Exists(Path.Combine(dir, TrainerDir, StateFile))) return dir;
        if (File.Exists(Path.Combine(dir + ".old", TrainerDir, StateFile))) return dir + ".old";
        throw new FileNotFoundException($"{dir}: not a pretraining checkpoint (no {TrainerDir}/{StateFile})");
    }

    public static TrainerState ReadState(string dir)
    {
        var path = Path.Combine(Locate(dir), TrainerDir, StateFile);
        return TrainerState.Parse(File.ReadAllText(path), path);
    }

    /// <summary>Loads weights and optimizer moments into an already built model and optimizer.</summary>
    public static TrainerState Load(string dir, Pretrainer model, AdamW optimizer)
    {
        dir = Locate(dir);
        var state = ReadState(dir);
        if (model.Discriminator is not null)
            HfCheckpoint.Load(Path.Combine(dir, DiscriminatorDir), model.Discriminator);
        HfCheckpoint.Load(Path.Combine(dir, GeneratorDir), model.Generator);
        var path = Path.Combine(dir, TrainerDir, OptimizerFile);
        using var file = SafetensorsFile.Open(path);
        var problems = new List<string>();
        foreach (var (name, param, m, v) in optimizer.State)
        {
            foreach (var (key, target) in new[] { (name + ".exp_avg", m), (name + ".exp_avg_sq", v) })
            {
                if (!file.Contains(key)) { problems.Add($"missing '{key}'"); continue; }
                using var t = file.ReadTensor(key);
                if (t.Shape != target.Shape) { problems.Add($"'{key}' has shape {t.Shape}, expected {target.Shape}"); continue; }
                target.Backend.CopyFromHost(System.Runtime.InteropServices.MemoryMarshal.AsBytes(t.ToFloatArray().AsSpan()), target);
            }
            _ = param;
        }
        if (problems.Count > 0) throw new CheckpointMismatchException($"{path} does not fit the optimizer:\n  " + string.Join("\n  ", problems));
        optimizer.StepCount = state.OptimizerSteps;
        return state;
    }
}

internal static class TrainJson
{
    public static readonly JsonSerializerOptions Options = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };
}
