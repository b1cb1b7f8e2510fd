using Electra.Model;
using Electra.Train.FineTuning;

namespace Electra.Train.Experiments;

/// <summary>What <c>electra experiment rtd-vs-mlm</c> was asked to do; unset values take the preset's.</summary>
public sealed record RtdVsMlmOptions
{
    public string Preset { get; init; } = "tiny";

    /// <summary>The discriminator (and MLM baseline) shape; null: the preset's, with the vocabulary's size.</summary>
    public ElectraConfig? Discriminator { get; init; }

    /// <summary>The RTD generator's shape; null: the discriminator's with 1/4 the hidden size.</summary>
    public ElectraConfig? Generator { get; init; }

    public required string DataDir { get; init; }
    public required string GlueDir { get; init; }
    public required string OutDir { get; init; }

    /// <summary>RTD's pretraining steps; the MLM baseline gets the steps of equal training FLOPs.</summary>
    public long? Steps { get; init; }

    /// <summary>Pretraining budget in training FLOPs, for each objective (instead of <see cref="Steps"/>).</summary>
    public double? Flops { get; init; }

    public int? Batch { get; init; }
    public int? Seq { get; init; }
    public float? Lr { get; init; }
    public long? Warmup { get; init; }
    public ulong Seed { get; init; } = 1;
    public int? LogEvery { get; init; }
    public long? SaveEvery { get; init; }

    public IReadOnlyList<string> Tasks { get; init; } = ["sst2", "cola"];

    /// <summary>Fine-tuning seeds 1…K, the same for every pretrained model.</summary>
    public int Seeds { get; init; } = 3;

    /// <summary>Fine-tuning hyper-parameters of every fine-tuning run; Seed and OutDir are set per run.</summary>
    public FineTuneSettings FineTune { get; init; } = new();

    public int? TrainLimit { get; init; }

    /// <summary>Share of train.tsv held out as dev for a task that has no dev file.</summary>
    public double DevFraction { get; init; } = 0.1;

    public string Device { get; init; } = "auto";
    public string? VocabPath { get; init; }
}
