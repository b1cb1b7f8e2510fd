using System.CommandLine;
using Electra.Train.Data;
using Spectre.Console;

namespace Electra.Train.Commands;

/// <summary><c>electra prepare-data</c>: text files → packed, tokenized example shards (see <see cref="DataPreparer"/>).</summary>
public static class PrepareDataCommand
{
    public static Command Create()
    {
        var input = new Option<string[]>("--input")
        {
            Description = "Text files or directories (searched recursively for *.txt); a blank line separates documents",
            Required = true,
            AllowMultipleArgumentsPerToken = true,
        };
        var vocab = new Option<string?>("--vocab") { Description = "WordPiece vocab.txt (default: the bundled bert-base-uncased vocabulary)" };
        var seq = new Option<int>("--seq") { Description = "Tokens per example, T", DefaultValueFactory = _ => 128 };
        var output = new Option<string>("--out") { Description = "Output directory for shard-*.bin and manifest.json; an existing one is replaced only once the new shards are complete", Required = true };
        var seed = new Option<ulong>("--seed") { Description = "Seed of the packing draws (single segment, short targets, cut points)", DefaultValueFactory = _ => 1 };
        var shardSize = new Option<int>("--shard-size") { Description = "Examples per shard file", DefaultValueFactory = _ => ShardWriter.DefaultShardSize };

        var command = new Command("prepare-data", "Tokenize text files into [CLS] A [SEP] B [SEP] pretraining examples, stored as binary shards");
        command.Options.Add(input);
        command.Options.Add(vocab);
        command.Options.Add(seq);
        command.Options.Add(output);
        command.Options.Add(seed);
        command.Options.Add(shardSize);
        command.SetAction(parseResult =>
        {
            var options = new PrepareDataOptions(parseResult.GetValue(input)!, parseResult.GetValue(output)!,
                parseResult.GetValue(seq), parseResult.GetValue(seed), parseResult.GetValue(shardSize));
            try
            {
                return Run(options, parseResult.GetValue(vocab));
            }
            catch (Exception e) when (e is IOException or InvalidDataException or ArgumentException or UnauthorizedAccessException)
            {
                AnsiConsole.MarkupLineInterpolated($"[red]prepare-data: {e.Message}[/]");
                return 1;
            }
        });
        return command;
    }

    private static int Run(PrepareDataOptions options, string? vocabPath)
    {
        if (options.SeqLen < ExampleBuilder.ShortTargetMin || options.SeqLen > ShardFormat.MaxSeqLen)
            throw new ArgumentException($"--seq: expected {ExampleBuilder.ShortTargetMin}..{ShardFormat.MaxSeqLen}, got {options.SeqLen}");
        if (options.ShardSize < 1) throw new ArgumentException($"--shard-size: expected at least 1, got {options.ShardSize}");
        var tokenizer = WordPieceTokenizer.Load(vocabPath);
        AnsiConsole.MarkupLineInterpolated($"vocab [bold]{tokenizer.Vocabulary.Path}[/] ({tokenizer.VocabSize} tokens, hash {tokenizer.VocabHash}), T={options.SeqLen}, seed {options.Seed}");

        bool existed = Directory.Exists(options.OutDir) && Directory.EnumerateFileSystemEntries(options.OutDir).Any();
        using var cancel = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) => { e.Cancel = true; cancel.Cancel(); };
        Console.CancelKeyPress += onCancel;
        ShardManifest manifest;
        CorpusStats stats;
        try
        {
            (manifest, stats) = AnsiConsole.Progress()
                .AutoClear(false)
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new DownloadedColumn(),
                    new TransferSpeedColumn(), new RemainingTimeColumn())
                .Start(context =>
                {
                    var task = context.AddTask("reading", maxValue: 1);
                    return DataPreparer.Run(options, tokenizer, p =>
                    {
                        task.MaxValue = Math.Max(1, p.BytesTotal);
                        task.Value = p.BytesDone;
                        task.Description = $"files {p.FilesDone}/{p.FilesTotal}, {p.Examples:N0} examples";
                    }, cancel.Token);
                });
        }
        catch (OperationCanceledException)
        {
            if (existed)
                AnsiConsole.MarkupLineInterpolated($"[yellow]prepare-data: interrupted; {options.OutDir} is unchanged (the new shards were written beside it and removed)[/]");
            else
                AnsiConsole.MarkupLineInterpolated($"[yellow]prepare-data: interrupted; nothing was written to {options.OutDir}[/]");
            return 130;
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }

        var table = new Table().AddColumn("").AddColumn(new TableColumn("").RightAligned()).HideHeaders();
        table.AddRow("files", $"{stats.Files:N0} ({stats.Bytes:N0} bytes)");
        table.AddRow("documents", $"{stats.Documents:N0}");
        table.AddRow("sentences", $"{stats.Sentences:N0}");
        table.AddRow("examples", $"{manifest.Examples:N0} in {manifest.Shards.Count} shard(s)");
        table.AddRow("single-segment", $"{stats.SingleSegmentExamples:N0} ({Percent(stats.SingleSegmentExamples, stats.Examples)})");
        table.AddRow("tokens", $"{manifest.Tokens:N0} (mean {(double)manifest.Tokens / Math.Max(1, manifest.Examples):F1} per example)");
        table.AddRow("[[UNK]] tokens", $"{stats.UnknownTokens:N0} ({100 * stats.UnknownShare:F1}% of the {stats.TextTokens:N0} WordPiece tokens of the text)");
        AnsiConsole.Write(table);

        var warnings = stats.Warnings().ToList();
        if (warnings.Count > 0)
        {
            AnsiConsole.MarkupLine($"[yellow]{warnings.Count} warning(s):[/]");
            foreach (var warning in warnings) AnsiConsole.MarkupLineInterpolated($"[yellow]  {warning}[/]");
            foreach (var note in stats.Notes) AnsiConsole.MarkupLineInterpolated($"    {note}");
        }
        string replaced = existed ? ", replacing the folder's previous shards" : "";
        AnsiConsole.MarkupLineInterpolated($"wrote [bold]{Path.Combine(options.OutDir, ShardManifest.FileName)}[/]{replaced}");
        return 0;
    }

    private static string Percent(long part, long whole) => whole == 0 ? "0%" : $"{100.0 * part / whole:F1}%";
}
