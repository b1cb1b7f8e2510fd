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

    /// <summary>The vocabulary hash of the shards trained on (manifest vocab_hash); null in older checkpoints.</summary>
    public string? VocabHash { get; init; }

    /// <summary><see cref="Data.DataFingerprint"/> of the shards trained on; null in older checkpoints.</summary>
    public string? DataFingerprint { get; init; }

    public string ToJson() => JsonSerializer.Serialize(this, TrainJson.Options);

    public static TrainerState Parse(string json, string source)
    {
        try
        {
            var node = JsonNode.Parse(json) as JsonObject ?? throw new InvalidDataException($"{source}: expected a JSON object");
            int format = node["format"]?.GetValue<int>() ?? -1;
            if (format != FormatVersion)
                throw new InvalidDataException($"{source}: trainer state format {format}, this version reads {FormatVersion}");
            var state = JsonSerializer.Deserialize<TrainerState>(json, TrainJson.Options) ?? throw new InvalidDataException($"{source}: empty state");
            return state.Check(source);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException)
        {
            throw new InvalidDataException($"{source}: not a valid trainer state ({e.Message})", e);
        }
    }

    /// <summary>A state.json edited by hand (or damaged) is refused here, not deep in the loop as an overflow.</summary>
    private TrainerState Check(string source)
    {
        void Require(bool ok, string what)
        {
            if (!ok) throw new InvalidDataException($"{source}: {what}");
        }
        Require(Step >= 0, $"step {Step} is negative; expected the number of steps completed (0 or more)");
        Require(OptimizerSteps >= 0, $"optimizer_steps {OptimizerSteps} is negative");
        Require(DataEpoch >= 0 && DataPosition >= 0, $"data cursor (epoch {DataEpoch}, position {DataPosition}) is negative");
        Require(Settings is not null, "settings are missing");
        try
        {
            Settings!.CheckRunnable();
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException($"{source}: settings: {e.Message}");
        }
        Require(Step <= Settings.Steps, $"step {Step} is beyond the run's {Settings.Steps} steps");
        return this;
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

    public static void Save(string dir, Pretrainer model, AdamW optimizer, TrainerState state) =>
        DirectorySwap.Write(dir, staging => WriteInto(staging, model, optimizer, state));

    private static void WriteInto(string staging, Pretrainer model, AdamW optimizer, TrainerState state)
    {
        if (model.Discriminator is not null)
            HfCheckpoint.Save(Path.Combine(staging, DiscriminatorDir), model.Discriminator, model.DiscriminatorConfig);
        HfCheckpoint.Save(Path.Combine(staging, GeneratorDir), model.Generator, model.GeneratorConfig);
        var trainer = Path.Combine(staging, TrainerDir);
        Directory.CreateDirectory(trainer);
        var moments = optimizer.State.SelectMany(s => new[] { (s.Name + ".exp_avg", s.M), (s.Name + ".exp_avg_sq", s.V) });
        SafetensorsWriter.Write(Path.Combine(trainer, OptimizerFile), moments,
            new Dictionary<string, string> { ["optimizer_steps"] = optimizer.StepCount.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        File.WriteAllText(Path.Combine(trainer, StateFile), state.ToJson());
    }

    /// <summary>The checkpoint directory to read: <paramref name="dir"/>, or its ".old" twin if a swap was interrupted.</summary>
    public static string Locate(string dir)
    {
        if (File.Exists(Path.Combine(dir, TrainerDir, StateFile))) return dir;
        if (File.Exists(Path.Combine(dir + ".old", TrainerDir, StateFile))) return dir + ".old";
        throw new FileNotFoundException($"{dir}: not a pretraining checkpoint (no {TrainerDir}/{StateFile})");
    }

    /// <summary>
    /// The checkpoint that <c>--resume PATH</c> means: PATH itself (or its ".old" twin), or PATH/checkpoint when PATH
    /// is a run directory.
    /// </summary>
    public static string Find(string path)
    {
        path = Path.TrimEndingDirectorySeparator(Path.GetFullPath(path));
        if (Exists(path)) return path;
        var inRun = Path.Combine(path, RunCheckpointName);
        if (Exists(inRun)) return inRun;
        throw new FileNotFoundException(Directory.Exists(path)
            ? $"--resume {path}: not a pretraining checkpoint (no {TrainerDir}/{StateFile} in it or in {RunCheckpointName}/)"
            : $"--resume {path}: no such checkpoint directory");
    }

    /// <summary>True when <paramref name="dir"/> (or its ".old" twin) holds a checkpoint's trainer state.</summary>
    public static bool Exists(string dir) =>
        File.Exists(Path.Combine(dir, TrainerDir, StateFile)) || File.Exists(Path.Combine(dir + ".old", TrainerDir, StateFile));

    /// <summary>What a run directory calls its checkpoint.</summary>
    public const string RunCheckpointName = "checkpoint";

    /// <summary>The run directory a checkpoint belongs to: the parent of RUN/checkpoint; null for a checkpoint kept elsewhere.</summary>
    public static string? RunDirOf(string checkpoint)
    {
        checkpoint = Path.TrimEndingDirectorySeparator(Path.GetFullPath(checkpoint));
        var name = Path.GetFileName(checkpoint);
        return name is RunCheckpointName or RunCheckpointName + ".old" ? Path.GetDirectoryName(checkpoint) : null;
    }

    /// <summary>
    /// The model configs a checkpoint was trained with: the discriminator's and the generator's for RTD; for the MLM
    /// baseline, whose only network is the generator, its config serves as both.
    /// </summary>
    public static (ElectraConfig Discriminator, ElectraConfig? Generator) ReadConfigs(string dir, Objective objective)
    {
        dir = Locate(dir);
        var generator = ElectraConfig.Load(Path.Combine(dir, GeneratorDir, HfCheckpoint.ConfigFile));
        return objective == Objective.Mlm
            ? (generator, null)
            : (ElectraConfig.Load(Path.Combine(dir, DiscriminatorDir, HfCheckpoint.ConfigFile)), generator);
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
