using System.CommandLine;
using System.Text.Json.Nodes;
using Electra.Autograd;
using Electra.Train.Data;
using Electra.Train.Reporting;
using Spectre.Console;

namespace Electra.Train.Commands;

/// <summary><c>electra score</c>: the discriminator's probability that each token of a text was replaced.</summary>
public static class ScoreCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Checkpoint or HF model directory with a discriminator", Required = true };
        var text = new Option<string[]>("--text") { Description = "Text to score (repeatable)", Required = true, AllowMultipleArgumentsPerToken = false };
        var vocab = new Option<string?>("--vocab") { Description = "vocab.txt (default: the bundled bert-base-uncased vocabulary)" };
        var json = new Option<bool>("--json") { Description = "Print one JSON object per text instead of a table" };
        var device = new Option<string>("--device") { Description = "auto, cpu, cuda or cuda:N", DefaultValueFactory = _ => "auto" };
        var precision = new Option<string?>("--precision") { Description = PrecisionChoice.Description };
        var command = new Command("score", "Per-token replaced probability from a trained discriminator");
        foreach (var o in new Option[] { model, text, vocab, json, device, precision }) command.Options.Add(o);
        command.SetAction(parse =>
        {
            try
            {
                var tokenizer = WordPieceTokenizer.Load(parse.GetValue(vocab));
                var (dev, _) = DeviceChoice.Resolve(parse.GetValue(device)!);
                var chosen = PrecisionChoice.Resolve(parse.GetValue(precision), dev);
                using var disc = ModelLoading.LoadDiscriminator(parse.GetValue(model)!, dev);
                using var amp = Autocast.For(chosen);
                var texts = parse.GetValue(text)!;
                for (int n = 0; n < texts.Length; n++)
                {
                    var t = texts[n];
                    var (tokens, probs, textTokens) = Score(disc, tokenizer, t);
                    bool truncated = textTokens > tokens.Length - 2;
                    if (truncated)
                        Console.Error.WriteLine(
                            $"score: text {n + 1} has {textTokens} tokens, more than the model's {disc.Config.MaxPositionEmbeddings} positions hold with [CLS] and [SEP]: only the first {tokens.Length - 2} are scored");
                    if (parse.GetValue(json))
                    {
                        var arr = new JsonArray(tokens.Zip(probs).Select(p => (JsonNode)new JsonObject { ["token"] = p.First, ["replaced_prob"] = JsonNumbers.Finite(p.Second, 5) }).ToArray());
                        Console.WriteLine(new JsonObject { ["text"] = t, ["tokens"] = arr, ["text_tokens"] = textTokens, ["truncated"] = truncated }.ToJsonString());
                    }
                    else
                    {
                        var table = new Table().AddColumn("token").AddColumn("p(replaced)");
                        foreach (var (tok, p) in tokens.Zip(probs))
                            table.AddRow(Markup.Escape(tok), p > 0.5f ? $"[red]{p:F3}[/]" : $"{p:F3}");
                        AnsiConsole.Write(table);
                    }
                }
                return 0;
            }
            catch (Exception e) when (e is IOException or InvalidDataException or ArgumentException or NotSupportedException
                                      or Electra.Model.Checkpoints.CheckpointMismatchException or Electra.IO.SafetensorsException)
            {
                Console.Error.WriteLine($"electra score: {e.Message}");
                return 1;
            }
        });
        return command;
    }

    /// <summary>
    /// Tokens of [CLS] text [SEP] and σ(logit) for each, cut to the model's positions (the text's end goes, [SEP]
    /// stays); <c>TextTokens</c> counts the text's tokens before the cut.
    /// </summary>
    public static (string[] Tokens, float[] Probabilities, int TextTokens) Score(Electra.Model.Discriminator disc, WordPieceTokenizer tokenizer, string text)
    {
        var ids = tokenizer.EncodeWithSpecialTokens(text).ToArray();
        int textTokens = ids.Length - 2;
        int max = disc.Config.MaxPositionEmbeddings;
        if (ids.Length > max) ids = [.. ids.Take(max - 1), tokenizer.SepId];
        using var scope = new TensorScope();
        using var noGrad = GradMode.NoGrad();
        var device = disc.Electra.Embeddings.WordEmbeddings.Weight.Device;
        var idT = Tensor.FromArray(ids, [1, ids.Length], device);
        var types = Tensor.Zeros([1, ids.Length], DType.I32, device);
        var mask = Tensor.Ones([1, ids.Length], DType.I32, device);
        var logits = disc.Forward(idT, types, mask).ToFloatArray();
        return (ids.Select(tokenizer.TokenOf).ToArray(), logits.Select(x => 1f / (1f + MathF.Exp(-x))).ToArray(), textTokens);
    }
}
