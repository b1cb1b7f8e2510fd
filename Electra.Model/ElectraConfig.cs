using System.Text.Json;
using System.Text.Json.Nodes;

namespace Electra.Model;

/// <summary>
/// The hyper-parameters of one ELECTRA network, read and written as a Hugging Face <c>config.json</c>.
/// Generator and discriminator each have one; they share vocabulary, embedding size and positions.
/// </summary>
public sealed record ElectraConfig
{
    public int VocabSize { get; init; } = 30522;
    public int EmbeddingSize { get; init; } = 128;
    public int HiddenSize { get; init; } = 256;
    public int NumHiddenLayers { get; init; } = 12;
    public int NumAttentionHeads { get; init; } = 4;
    public int IntermediateSize { get; init; } = 1024;
    public string HiddenAct { get; init; } = "gelu";
    public float HiddenDropoutProb { get; init; } = 0.1f;
    public float AttentionProbsDropoutProb { get; init; } = 0.1f;
    public int MaxPositionEmbeddings { get; init; } = 512;
    public int TypeVocabSize { get; init; } = 2;
    public float InitializerRange { get; init; } = 0.02f;
    public float LayerNormEps { get; init; } = 1e-12f;
    public int PadTokenId { get; init; }
    /// <summary>HF's classifier_dropout: the classification head's dropout, hidden_dropout_prob when null.</summary>
    public float? ClassifierDropout { get; init; }
    public string[] Architectures { get; init; } = ["ElectraForPreTraining"];

    /// <summary>hidden_act values that are the exact erf GELU this model computes.</summary>
    public static readonly string[] SupportedActivations = ["gelu", "gelu_python"];

    public int HeadSize => HiddenSize / NumAttentionHeads;

    /// <summary>Checks the numbers fit together; the message names the offending field and file.</summary>
    public ElectraConfig Validate(string source = "config")
    {
        void Positive(int v, string name)
        {
            if (v <= 0) throw new InvalidDataException($"{source}: {name} must be positive, got {v}");
        }
        Positive(VocabSize, "vocab_size");
        Positive(EmbeddingSize, "embedding_size");
        Positive(HiddenSize, "hidden_size");
        Positive(NumHiddenLayers, "num_hidden_layers");
        Positive(NumAttentionHeads, "num_attention_heads");
        Positive(IntermediateSize, "intermediate_size");
        Positive(MaxPositionEmbeddings, "max_position_embeddings");
        Positive(TypeVocabSize, "type_vocab_size");
        if (HiddenSize % NumAttentionHeads != 0)
            throw new InvalidDataException($"{source}: hidden_size {HiddenSize} is not divisible by num_attention_heads {NumAttentionHeads}");
        if (!SupportedActivations.Contains(HiddenAct))
            throw new InvalidDataException(
                $"{source}: hidden_act '{HiddenAct}' is not supported (supported: {string.Join(", ", SupportedActivations)}, the exact erf GELU)");
        void Probability(float p, string name)
        {
            // Written so that NaN fails too.
            if (!(p >= 0 && p < 1)) throw new InvalidDataException($"{source}: {name} must be in [0, 1), got {p}");
        }
        Probability(HiddenDropoutProb, "hidden_dropout_prob");
        Probability(AttentionProbsDropoutProb, "attention_probs_dropout_prob");
        if (ClassifierDropout is { } classifier) Probability(classifier, "classifier_dropout");
        if (!(LayerNormEps > 0 && float.IsFinite(LayerNormEps)))
            throw new InvalidDataException($"{source}: layer_norm_eps must be a positive number, got {LayerNormEps}");
        if (!(InitializerRange >= 0 && float.IsFinite(InitializerRange)))
            throw new InvalidDataException($"{source}: initializer_range must be a non-negative number, got {InitializerRange}");
        if (PadTokenId < 0 || PadTokenId >= VocabSize)
            throw new InvalidDataException($"{source}: pad_token_id {PadTokenId} is outside the vocabulary of {VocabSize}");
        return this;
    }

    // ---- presets ------------------------------------------------------------------------------------------------

    /// <summary>ELECTRA-Small discriminator (Clark et al. 2020, Table 6): 13.5 M parameters with its head.</summary>
    public static ElectraConfig Small => new();

    public static ElectraConfig Base => new() { EmbeddingSize = 768, HiddenSize = 768, NumAttentionHeads = 12, IntermediateSize = 3072 };

    public static ElectraConfig Large => new() { EmbeddingSize = 1024, HiddenSize = 1024, NumHiddenLayers = 24, NumAttentionHeads = 16, IntermediateSize = 4096 };

    /// <summary>A model that trains in minutes on two CPU cores; same vocabulary and structure as Small.</summary>
    public static ElectraConfig Tiny => new()
    {
        EmbeddingSize = 64, HiddenSize = 128, NumHiddenLayers = 2, NumAttentionHeads = 2, IntermediateSize = 512, MaxPositionEmbeddings = 128,
    };

    public static ElectraConfig Preset(string name) => name.ToLowerInvariant() switch
    {
        "tiny" => Tiny,
        "small" => Small,
        "base" => Base,
        "large" => Large,
        _ => throw new ArgumentException($"unknown preset '{name}': expected tiny, small, base or large"),
    };

    /// <summary>
    /// The generator that goes with a discriminator: hidden size scaled by <paramref name="sizeFraction"/> (1/4 for
    /// Small and Large, 1/3 for Base in the paper), one head per 64 hidden units, FFN 4×hidden, same depth.
    /// </summary>
    public ElectraConfig Generator(float? sizeFraction = null)
    {
        float f = sizeFraction ?? (HiddenSize == 768 ? 1f / 3f : 0.25f);
        int h = Math.Max(1, (int)Math.Round(HiddenSize * f));
        int heads = Math.Max(1, h / 64);
        while (h % heads != 0) heads--;
        return this with { HiddenSize = h, NumAttentionHeads = heads, IntermediateSize = 4 * h, Architectures = ["ElectraForMaskedLM"] };
    }

    // ---- config.json --------------------------------------------------------------------------------------------

    public string ToJson()
    {
        var o = new JsonObject
        {
            ["architectures"] = new JsonArray(Architectures.Select(a => (JsonNode)a!).ToArray()),
            ["attention_probs_dropout_prob"] = AttentionProbsDropoutProb,
            ["embedding_size"] = EmbeddingSize,
            ["hidden_act"] = HiddenAct,
            ["hidden_dropout_prob"] = HiddenDropoutProb,
            ["hidden_size"] = HiddenSize,
            ["initializer_range"] = InitializerRange,
            ["intermediate_size"] = IntermediateSize,
            ["layer_norm_eps"] = LayerNormEps,
            ["max_position_embeddings"] = MaxPositionEmbeddings,
            ["model_type"] = "electra",
            ["num_attention_heads"] = NumAttentionHeads,
            ["num_hidden_layers"] = NumHiddenLayers,
            ["pad_token_id"] = PadTokenId,
            ["position_embedding_type"] = "absolute",
            ["type_vocab_size"] = TypeVocabSize,
            ["vocab_size"] = VocabSize,
        };
        if (ClassifierDropout is { } classifierDropout) o["classifier_dropout"] = classifierDropout;
        return o.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n";
    }

    public void Save(string path) => File.WriteAllText(path, ToJson());

    public static ElectraConfig Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"config file '{path}' does not exist", path);
        return Parse(File.ReadAllText(path), path);
    }

    /// <summary>
    /// Reads an HF config.json (ELECTRA or BERT). Fields left out take HF's defaults; a BERT config has no
    /// embedding_size, which then equals hidden_size.
    /// </summary>
    public static ElectraConfig Parse(string json, string source = "config.json")
    {
        JsonObject o;
        try
        {
            o = JsonNode.Parse(json) as JsonObject ?? throw new InvalidDataException($"{source}: expected a JSON object");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{source}: not valid JSON ({e.Message})", e);
        }

        int Int(string key, int fallback)
        {
            if (!o.TryGetPropertyValue(key, out var n) || n is null) return fallback;
            try { return n.GetValue<int>(); }
            catch (Exception e) when (e is FormatException or InvalidOperationException)
            {
                throw new InvalidDataException($"{source}: '{key}' must be an integer, got {n.ToJsonString()}");
            }
        }
        float Float(string key, float fallback)
        {
            if (!o.TryGetPropertyValue(key, out var n) || n is null) return fallback;
            try { return (float)n.GetValue<double>(); }
            catch (Exception e) when (e is FormatException or InvalidOperationException)
            {
                throw new InvalidDataException($"{source}: '{key}' must be a number, got {n.ToJsonString()}");
            }
        }
        string Str(string key, string fallback)
        {
            if (!o.TryGetPropertyValue(key, out var n) || n is null) return fallback;
            return n is JsonValue v && v.TryGetValue<string>(out var s)
                ? s
                : throw new InvalidDataException($"{source}: '{key}' must be a string, got {n.ToJsonString()}");
        }
        bool Bool(string key, bool fallback)
        {
            if (!o.TryGetPropertyValue(key, out var n) || n is null) return fallback;
            return n is JsonValue v && v.TryGetValue<bool>(out var b)
                ? b
                : throw new InvalidDataException($"{source}: '{key}' must be true or false, got {n.ToJsonString()}");
        }
        // Fields HF's ELECTRA and BERT read that change what the network computes: a value this model does not
        // implement must not run as the default (a relative_key model would silently get absolute positions, and
        // finetune would write "absolute" back).
        void Only<T>(string key, T value, params T[] supported)
        {
            if (!supported.Contains(value))
                throw new InvalidDataException(
                    $"{source}: {key} {Show(value)} is not supported (supported: {string.Join(", ", supported.Select(Show))})");
        }
        static string Show<T>(T value) => value is string s ? $"'{s}'" : value is bool b ? (b ? "true" : "false") : $"{value}";

        var modelType = Str("model_type", "electra");
        Only("model_type", modelType, "electra", "bert");
        Only("position_embedding_type", Str("position_embedding_type", "absolute"), "absolute");
        Only("is_decoder", Bool("is_decoder", false), false);
        Only("add_cross_attention", Bool("add_cross_attention", false), false);

        int hidden = Int("hidden_size", 256);
        var archs = o["architectures"] is JsonArray a ? a.Select(x => x is JsonValue v && v.TryGetValue<string>(out var s) ? s : "").ToArray() : [];
        // The generator's output layer is always the word embeddings here; an untied one would be dropped.
        if (archs.Contains("ElectraForMaskedLM")) Only("tie_word_embeddings", Bool("tie_word_embeddings", true), true);
        float? classifierDropout = o.TryGetPropertyValue("classifier_dropout", out var cd) && cd is not null ? Float("classifier_dropout", 0f) : null;
        return new ElectraConfig
        {
            VocabSize = Int("vocab_size", 30522),
            EmbeddingSize = Int("embedding_size", hidden),
            HiddenSize = hidden,
            NumHiddenLayers = Int("num_hidden_layers", 12),
            NumAttentionHeads = Int("num_attention_heads", 4),
            IntermediateSize = Int("intermediate_size", 1024),
            HiddenAct = Str("hidden_act", "gelu"),
            HiddenDropoutProb = Float("hidden_dropout_prob", 0.1f),
            AttentionProbsDropoutProb = Float("attention_probs_dropout_prob", 0.1f),
            MaxPositionEmbeddings = Int("max_position_embeddings", 512),
            TypeVocabSize = Int("type_vocab_size", 2),
            InitializerRange = Float("initializer_range", 0.02f),
            LayerNormEps = Float("layer_norm_eps", 1e-12f),
            PadTokenId = Int("pad_token_id", 0),
            ClassifierDropout = classifierDropout,
            Architectures = archs,
        }.Validate(source);
    }
}
