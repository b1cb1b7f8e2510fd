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

    /// <summary>Gumbel-max sampling temperature of the generator's replacements (the paper: 1).</summary>
    public float Temperature { get; init; } = DefaultTemperature;

    /// <summary>Share of each sequence's real tokens chosen for masking (the paper: 0.15).</summary>
    public float MaskProb { get; init; } = DefaultMaskProb;

    /// <summary>λ, the weight of the discriminator's loss against the generator's (the paper: 50).</summary>
    public float DiscWeight { get; init; } = DefaultDiscWeight;

    public int LogEvery { get; init; } = 10;
    public long SaveEvery { get; init; } = 500;
    public string? DataDir { get; init; }
    public string OutDir { get; init; } = "runs/pretrain";

    /// <summary>bf16, tf32 or fp32; null until the run resolves the device's default (<see cref="PrecisionChoice"/>).</summary>
    public Precision? Precision { get; init; }

    public const float DefaultTemperature = 1f, DefaultMaskProb = 0.15f, DefaultDiscWeight = 50f;

    /// <summary>
    /// Refuses what no run can use, naming the flag: sizes below their minimum, rates that are zero, negative or not
    /// finite. The runner and a checkpoint's state are held to this.
    /// </summary>
    public PretrainSettings CheckRunnable()
    {
        if (Steps < 1) throw new ArgumentException($"--steps must be at least 1, got {Steps}");
        if (Batch < 1) throw new ArgumentException($"--batch must be at least 1, got {Batch}");
        if (Seq < 8) throw new ArgumentException($"--seq must be at least 8, got {Seq}");
        Finite(Lr, "--lr", positive: true);
        if (Warmup < 0) throw new ArgumentException($"--warmup must not be negative, got {Warmup}");
        Finite(WeightDecay, "weight decay", positive: false);
        Finite(ClipNorm, "the gradient clip norm", positive: true);
        Finite(Temperature, "--temperature", positive: true);
        Finite(MaskProb, "--mask-prob", positive: true);
        Finite(DiscWeight, "--disc-weight", positive: true);
        if (SaveEvery < 1) throw new ArgumentException($"--save-every must be at least 1, got {SaveEvery}");
        if (LogEvery < 1) throw new ArgumentException($"--log-every must be at least 1, got {LogEvery}");
        return this;
    }

    /// <summary>
    /// <see cref="CheckRunnable"/>, and values orders of magnitude outside what trains, which the CLI refuses: an lr
    /// above 1, a weight decay of 1 or more, a masking rate of 1, a temperature or λ far from the paper's.
    /// </summary>
    public PretrainSettings Validate()
    {
        CheckRunnable();
        if (!(Lr <= 1f)) throw new ArgumentException($"--lr must be in (0, 1], got {Num(Lr)}");
        if (!(WeightDecay < 1f)) throw new ArgumentException($"weight decay must be in [0, 1), got {Num(WeightDecay)}");
        if (!(Temperature >= 0.01f && Temperature <= 100f)) throw new ArgumentException($"--temperature must be in [0.01, 100], got {Num(Temperature)}");
        if (!(MaskProb < 1f)) throw new ArgumentException($"--mask-prob must be in (0, 1), got {Num(MaskProb)}");
        if (!(DiscWeight <= 10_000f)) throw new ArgumentException($"--disc-weight must be in (0, 10000], got {Num(DiscWeight)}");
        return this;
    }

    private static void Finite(float v, string name, bool positive)
    {
        if (!float.IsFinite(v) || (positive ? v <= 0f : v < 0f))
            throw new ArgumentException($"{name} must be a finite number {(positive ? "above 0" : "of 0 or more")}, got {Num(v)}");
    }

    private static string Num(float v) => v.ToString(System.Globalization.CultureInfo.InvariantCulture);

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
