using System.Globalization;
using System.Text.Json.Nodes;
using Electra.Model;
using Electra.Optim;

namespace Electra.Train.Pretraining;

/// <summary>
/// What a resumed run must share with its checkpoint, each refusal naming the flag: a run continued with another
/// learning rate, batch, model or data is a different run that only looks like the original. The run's length may
/// change, and that is said, because it reshapes the learning-rate schedule from the resume step on.
/// </summary>
internal static class ResumeChecks
{
    public static void Settings(TrainerState state, PretrainSettings now, string checkpoint, List<string> notices)
    {
        var was = state.Settings;
        var conflicts = new List<(string Flag, string Now, string Was)>();
        void Compare<T>(string flag, T a, T b, Func<T, string>? show = null)
        {
            if (!EqualityComparer<T>.Default.Equals(a, b)) conflicts.Add((flag, show is null ? Show(a) : show(a), show is null ? Show(b) : show(b)));
        }
        Compare("--preset", now.Preset.ToLowerInvariant(), was.Preset.ToLowerInvariant());
        Compare("--objective", now.Objective, was.Objective, o => o.ToString().ToLowerInvariant());
        Compare("--batch", now.Batch, was.Batch);
        Compare("--seq", now.Seq, was.Seq);
        Compare("--lr", now.Lr, was.Lr);
        Compare("--warmup", now.Warmup, was.Warmup);
        Compare("--seed", now.Seed, was.Seed);
        Compare("--temperature", now.Temperature, was.Temperature);
        Compare("--mask-prob", now.MaskProb, was.MaskProb);
        Compare("--disc-weight", now.DiscWeight, was.DiscWeight);
        Compare("weight decay", now.WeightDecay, was.WeightDecay);
        Compare("clip norm", now.ClipNorm, was.ClipNorm);
        if (conflicts.Count > 0)
            throw new ArgumentException(
                $"{string.Join(", ", conflicts.Select(c => $"{c.Flag} {c.Now}"))} conflict{(conflicts.Count == 1 ? "s" : "")} with the checkpoint " +
                $"({string.Join(", ", conflicts.Select(c => $"{c.Flag.TrimStart('-')} {c.Was}"))}; {checkpoint}): a resumed run keeps its settings; " +
                "drop the flag, or start a new run without --resume");

        if (now.Steps < state.Step)
            throw new ArgumentException(
                $"--steps {now.Steps} is below the checkpoint's step {state.Step} ({checkpoint}): a run cannot go back; nothing was written");
        if (now.Steps != was.Steps)
        {
            float before = state.Step < was.Steps ? LrSchedule.Electra(was.Lr, state.Step, was.Warmup, was.Steps) : 0f;
            float after = LrSchedule.Electra(now.Lr, state.Step, now.Warmup, now.Steps);
            notices.Add($"--steps {now.Steps}: the run {(now.Steps > was.Steps ? "is extended" : "is shortened")} from {was.Steps} to {now.Steps} steps; " +
                        $"the learning rate now decays to 0 at step {now.Steps} (at step {state.Step} it was {Show(before)}, it continues at {Show(after)})");
        }
    }

    /// <summary>The model configs the caller built against the checkpoint's config.json files.</summary>
    public static void Configs(string checkpoint, Objective objective, ElectraConfig discriminator, ElectraConfig? generator)
    {
        var (disc, gen) = PretrainCheckpoint.ReadConfigs(checkpoint, objective);
        Compare("--config", "discriminator", disc, discriminator);
        if (gen is not null) Compare("--generator-config", "generator", gen, generator ?? discriminator.Generator());

        void Compare(string flag, string network, ElectraConfig saved, ElectraConfig given)
        {
            var a = Fields(saved);
            var b = Fields(given);
            var differ = a.Select(kv => kv.Key).Union(b.Select(kv => kv.Key))
                .Where(k => !JsonNode.DeepEquals(a[k], b[k]))
                .Select(k => $"{k} {b[k]?.ToJsonString() ?? "absent"} vs {a[k]?.ToJsonString() ?? "absent"}").ToList();
            if (differ.Count > 0)
                throw new ArgumentException(
                    $"{flag}: the {network} config differs from the checkpoint's ({string.Join(", ", differ)}; {checkpoint}): a resumed run keeps its model; drop {flag}");
        }
    }

    /// <summary>config.json fields without the architecture names, which differ between a checkpoint and a config file.</summary>
    private static JsonObject Fields(ElectraConfig c)
    {
        var o = JsonNode.Parse(c.ToJson())!.AsObject();
        o.Remove("architectures");
        return o;
    }

    public static void Data(TrainerState state, string dataDir, string fingerprint, string vocabHash, List<string> notices)
    {
        if (state.DataFingerprint is null)
            notices.Add("the checkpoint records no data fingerprint (an older version wrote it): that --data is the data it trained on is not checked");
        else if (state.DataFingerprint != fingerprint)
            throw new ArgumentException(
                $"--data {dataDir}: these shards (fingerprint {fingerprint}) are not the data the checkpoint trained on ({state.Settings.DataDir}, fingerprint {state.DataFingerprint}); " +
                "resume with that data, or start a new run");
        if (state.VocabHash is not null && state.VocabHash != vocabHash)
            throw new ArgumentException(
                $"--data {dataDir}: the shards' vocab hash {vocabHash} differs from the checkpoint's {state.VocabHash}; resume with the data it trained on");
    }

    private static string Show<T>(T value) => value switch
    {
        float f => f.ToString("G6", CultureInfo.InvariantCulture),
        IFormattable x => x.ToString(null, CultureInfo.InvariantCulture),
        _ => value?.ToString() ?? "",
    };
}
