using Electra.Model;

namespace Electra.Train.Pretraining;

/// <summary>Everything that defines a pretraining run; stored in each checkpoint so a resume continues the same run.</summary>
public sealed record PretrainSettings
{
    public string Preset { get; init; } = "tiny";
    public Objective Objective { get; init; } = Objective.Rtd;
    public long Steps { get; init; } = 1000;
    public int Batch { get; init; } = 32;
    public int Seq { get; init; } = 128;
    public float Lr { get; init; } = 5e-4f;
    public long Warmup { get; init; } = 100;
    public float WeightDecay { get; init; } = 0.01f;
    public float ClipNorm { get; init; } = 1f;
    public ulong Seed { get; init; } = 1;
    public int LogEvery { get; init; } = 10;
    public long SaveEvery { get; init; } = 500;
    public string? DataDir { get; init; }
    public string OutDir { get; init; } = "runs/pretrain";

    /// <summary>bf16, tf32 or fp32; null until the run resolves the device's default (<see cref="PrecisionChoice"/>).</summary>
    public Precision? Precision { get; init; }

    /// <summary>
    /// The paper's values where it gives them; tiny keeps Small's peak lr with a short schedule so it ends in
    /// minutes on a CPU. (At 2e-3 the tiny post-LN discriminator collapsed within 600 steps: every position of every
    /// input came out as the same vector.)
    /// </summary>
    public static PretrainSettings ForPreset(string preset) => preset.ToLowerInvariant() switch
    {
        "tiny" => new PretrainSettings { Preset = "tiny", Steps = 600, Batch = 32, Lr = 5e-4f, Warmup = 60, SaveEvery = 200 },
        "small" => new PretrainSettings { Preset = "small", Steps = 1_000_000, Batch = 128, Lr = 5e-4f, Warmup = 10_000, SaveEvery = 10_000, LogEvery = 100 },
        "base" => new PretrainSettings { Preset = "base", Steps = 766_000, Batch = 256, Lr = 2e-4f, Warmup = 10_000, SaveEvery = 10_000, LogEvery = 100 },
        "large" => new PretrainSettings { Preset = "large", Steps = 400_000, Batch = 2048, Lr = 2e-4f, Warmup = 10_000, SaveEvery = 10_000, LogEvery = 100 },
        _ => throw new ArgumentException($"unknown preset '{preset}': expected tiny, small, base or large"),
    };
}
