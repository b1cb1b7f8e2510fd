using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Electra.Train.Data;
using Electra.Train.FineTuning;
using Electra.Train.Reporting;
using Spectre.Console;

namespace Electra.Train.Commands;

/// <summary>
/// <c>electra embed</c>: last hidden states and mean-pooled sentence vectors from the encoder of any supported
/// checkpoint (ELECTRA discriminator, generator, classifier, or a BERT body); <c>--pairs</c> adds cosine similarities.
/// </summary>
public static class EmbedCommand
{
    private const int Shown = 8;

    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Pretraining checkpoint or HF model directory (ELECTRA or BERT)", Required = true };
        var text = new Option<string[]>("--text") { Description = "Text to embed (repeatable)", Required = true, AllowMultipleArgumentsPerToken = false };
        var json = new Option<bool>("--json") { Description = "Print one JSON object per text (full hidden states and pooled vector)" };
        var pairs = new Option<bool>("--pairs") { Description = "Also print the cosine similarity of every pair of texts' pooled vectors" };
        var vocab = new Option<string?>("--vocab") { Description = "vocab.txt (default: the bundled bert-base-uncased vocabulary)" };
        var device = new Option<string>("--device") { Description = "auto, cpu, cuda or cuda:N", DefaultValueFactory = _ => "auto" };
        var precision = new Option<string?>("--precision") { Description = PrecisionChoice.Description };
        var command = new Command("embed", "Hidden states and mean-pooled sentence vectors from a pretrained encoder");
        foreach (var o in new Option[] { model, text, json, pairs, vocab, device, precision }) command.Options.Add(o);
        command.SetAction(parse =>
        {
            try
            {
                var texts = parse.GetValue(text)!;
                if (parse.GetValue(pairs) && texts.Length < 2) throw new ArgumentException("--pairs needs at least two --text values");
                var tokenizer = WordPieceTokenizer.Load(parse.GetValue(vocab));
                var (dev, _) = DeviceChoice.Resolve(parse.GetValue(device)!);
                var (encoder, info) = ModelLoading.LoadEncoder(parse.GetValue(model)!, dev);
                using var _ = encoder;
                if (tokenizer.VocabSize > info.Config.VocabSize)
                    throw new ArgumentException($"the vocabulary has {tokenizer.VocabSize} tokens but the model has vocab_size {info.Config.VocabSize}; pass the model's --vocab");
                IReadOnlyList<TextEmbedding> embeddings;
                using (Autocast.For(PrecisionChoice.Resolve(parse.GetValue(precision), dev))) embeddings = Embedder.Embed(encoder, tokenizer, texts);
                for (int n = 0; n < embeddings.Count; n++)
                    if (embeddings[n].Truncated)
                        Console.Error.WriteLine(
                            $"embed: text {n + 1} has {embeddings[n].TextTokens} tokens, more than the model's {info.Config.MaxPositionEmbeddings} positions hold with [CLS] and [SEP]: only the first {embeddings[n].Tokens.Length - 2} are embedded");
                if (parse.GetValue(json)) PrintJson(embeddings, parse.GetValue(pairs));
                else PrintTables(embeddings, parse.GetValue(pairs), info.Config.HiddenSize);
                return 0;
            }
            catch (Exception e) when (UserErrors.Is(e))
            {
                Console.Error.WriteLine($"electra embed: {e.Message}");
                return 1;
            }
        });
        return command;
    }

    private static JsonArray Vector(float[] v) => new(v.Select(x => JsonNumbers.Finite(x, 6)).ToArray());

    private static void PrintJson(IReadOnlyList<TextEmbedding> embeddings, bool pairs)
    {
        foreach (var e in embeddings)
        {
            Console.WriteLine(new JsonObject
            {
                ["text"] = e.Text,
                ["tokens"] = new JsonArray(e.Tokens.Select(t => (JsonNode)t).ToArray()),
                ["hidden"] = new JsonArray(e.Hidden.Select(r => (JsonNode)Vector(r)).ToArray()),
                ["pooled"] = Vector(e.Pooled),
                ["text_tokens"] = e.TextTokens,
                ["truncated"] = e.Truncated,
            }.ToJsonString());
        }
        if (pairs)
        {
            var matrix = embeddings.Select(a => (JsonNode)new JsonArray(embeddings.Select(b => JsonNumbers.Finite(Embedder.Cosine(a.Pooled, b.Pooled), 6)).ToArray()));
            Console.WriteLine(new JsonObject { ["cosine"] = new JsonArray(matrix.ToArray()) }.ToJsonString());
        }
    }

    private static void PrintTables(IReadOnlyList<TextEmbedding> embeddings, bool pairs, int hidden)
    {
        static string F(float v) => v.ToString("F3", CultureInfo.InvariantCulture);
        int shown = Math.Min(Shown, hidden);
        foreach (var e in embeddings)
        {
            AnsiConsole.MarkupLineInterpolated($"[bold]{e.Text}[/] · {e.Tokens.Length} tokens · H={hidden} (first {shown} dimensions shown; --json prints all)");
            var table = new Table().AddColumn("token");
            for (int k = 0; k < shown; k++) table.AddColumn(k.ToString(CultureInfo.InvariantCulture));
            for (int t = 0; t < e.Tokens.Length; t++)
                table.AddRow([Markup.Escape(e.Tokens[t]), .. e.Hidden[t].Take(shown).Select(F)]);
            table.AddRow(["[bold]mean[/]", .. e.Pooled.Take(shown).Select(v => $"[bold]{F(v)}[/]")]);
            AnsiConsole.Write(table);
        }
        if (!pairs) return;
        var cos = new Table().AddColumn("cosine");
        for (int j = 0; j < embeddings.Count; j++) cos.AddColumn($"#{j + 1}");
        for (int i = 0; i < embeddings.Count; i++)
            cos.AddRow([$"#{i + 1} {Markup.Escape(Shorten(embeddings[i].Text))}",
                .. embeddings.Select(b => Embedder.Cosine(embeddings[i].Pooled, b.Pooled).ToString("F4", CultureInfo.InvariantCulture))]);
        AnsiConsole.Write(cos);
    }

    private static string Shorten(string s) => s.Length <= 40 ? s : s[..37] + "...";
}
