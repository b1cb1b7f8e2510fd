namespace Electra.Train.Data;

public sealed record PrepareDataOptions(IReadOnlyList<string> Inputs, string OutDir, int SeqLen = 128, ulong Seed = 1,
    int ShardSize = ShardWriter.DefaultShardSize);

/// <summary>Progress of <see cref="DataPreparer.Run"/>: files and bytes done out of the totals found up front.</summary>
public readonly record struct PrepareProgress(int FilesDone, int FilesTotal, long BytesDone, long BytesTotal, long Examples, string? CurrentFile);

/// <summary>
/// <c>electra prepare-data</c> without the console: text files → documents (files, and blank-line separated
/// blocks within a file) → sentences → WordPiece ids → packed examples → shards. One thread and one seeded stream,
/// so the output is a pure function of (inputs, vocab, T, seed, shard size). The shards are written into a new folder
/// that replaces the output folder only when complete (<see cref="StagedDirectory"/>).
/// </summary>
public static class DataPreparer
{
    private const long ProgressEveryBytes = 1 << 20;

    /// <summary>
    /// The .txt files named by <paramref name="inputs"/> (files as given, directories searched recursively), in
    /// ordinal order of full path so the result does not depend on the file system's listing order.
    /// </summary>
    public static List<string> ResolveInputs(IEnumerable<string> inputs)
    {
        var files = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var input in inputs)
        {
            if (File.Exists(input))
            {
                files.Add(Path.GetFullPath(input));
            }
            else if (Directory.Exists(input))
            {
                var options = new EnumerationOptions { RecurseSubdirectories = true, MatchCasing = MatchCasing.CaseInsensitive, IgnoreInaccessible = true };
                foreach (var file in Directory.EnumerateFiles(input, "*.txt", options)) files.Add(Path.GetFullPath(file));
            }
            else
            {
                throw new FileNotFoundException($"--input: no such file or directory: {input}", input);
            }
        }
        if (files.Count == 0)
            throw new InvalidDataException($"--input: no .txt files found in {string.Join(", ", inputs)}");
        return [.. files];
    }

    public static (ShardManifest Manifest, CorpusStats Stats) Run(PrepareDataOptions options, WordPieceTokenizer tokenizer,
        Action<PrepareProgress>? progress = null, CancellationToken cancel = default)
    {
        if (options.SeqLen < ExampleBuilder.ShortTargetMin || options.SeqLen > ShardFormat.MaxSeqLen)
            throw new ArgumentOutOfRangeException(nameof(options), options.SeqLen, $"--seq must be in {ExampleBuilder.ShortTargetMin}..{ShardFormat.MaxSeqLen}");
        var files = ResolveInputs(options.Inputs);
        long bytesTotal = files.Sum(f => SizeOrZero(f));
        string staging = StagedDirectory.Create(options.OutDir, IsOwnFile);
        try
        {
            var stats = new CorpusStats();
            var manifest = WriteShards(options, tokenizer, files, bytesTotal, staging, stats, progress, cancel);
            StagedDirectory.SwapIn(staging, options.OutDir);
            return (manifest, stats);
        }
        finally
        {
            // After a swap this holds the folder's previous contents; after a failure, the partial output.
            if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
        }
    }

    /// <summary>What a previous preparation writes into its folder, and may be replaced without loss.</summary>
    private static bool IsOwnFile(string name) =>
        name == ShardManifest.FileName || name == ShardManifest.FileName + ".tmp"
        || (name.StartsWith("shard-", StringComparison.Ordinal) && (name.EndsWith(".bin", StringComparison.Ordinal) || name.EndsWith(".bin.tmp", StringComparison.Ordinal)));

    private static ShardManifest WriteShards(PrepareDataOptions options, WordPieceTokenizer tokenizer, List<string> files,
        long bytesTotal, string dir, CorpusStats stats, Action<PrepareProgress>? progress, CancellationToken cancel)
    {
        var builder = new ExampleBuilder(options.SeqLen, tokenizer.ClsId, tokenizer.SepId,
            new DataRandom(options.Seed, DataRandom.ExampleBuilderOffset));
        var writer = new ShardWriter(dir, options.SeqLen, tokenizer.VocabSize, tokenizer.VocabHash, tokenizer.PadId, options.ShardSize);
        long bytesBefore = 0;
        bool inDocument = false;

        void Emit(PackedExample? example)
        {
            if (example is null) return;
            writer.Add(example);
            stats.Examples++;
            if (example.IsSingleSegment) stats.SingleSegmentExamples++;
        }

        for (int f = 0; f < files.Count; f++)
        {
            cancel.ThrowIfCancellationRequested();
            string file = files[f];
            progress?.Invoke(new PrepareProgress(f, files.Count, bytesBefore, bytesTotal, stats.Examples, file));
            long fileBytes = 0;
            try
            {
                using var reader = new Utf8LineReader(new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16));
                bool anyText = false;
                long nextReport = ProgressEveryBytes;
                while (reader.ReadLine() is { } line)
                {
                    cancel.ThrowIfCancellationRequested();
                    if (string.IsNullOrWhiteSpace(line))
                    {
                        if (inDocument) EndDocument();
                        continue;
                    }
                    anyText = true;
                    inDocument = true;
                    foreach (var sentence in SentenceSplitter.Split(line))
                    {
                        var ids = tokenizer.Encode(sentence);
                        stats.Sentences++;
                        stats.TextTokens += ids.Count;
                        foreach (int id in ids)
                            if (id == tokenizer.UnkId) stats.UnknownTokens++;
                        Emit(builder.AddSentence(ids));
                    }
                    if (progress is not null && reader.BytesRead >= nextReport)
                    {
                        nextReport = reader.BytesRead + ProgressEveryBytes;
                        progress(new PrepareProgress(f, files.Count, bytesBefore + reader.BytesRead, bytesTotal, stats.Examples, file));
                    }
                }
                if (inDocument) EndDocument();
                fileBytes = reader.BytesRead;
                stats.Files++;
                stats.Bytes += fileBytes;
                if (!anyText)
                {
                    stats.EmptyFiles++;
                    stats.Note($"{file}: empty");
                }
                if (reader.InvalidSequences > 0)
                {
                    stats.FilesWithInvalidUtf8++;
                    stats.InvalidUtf8Sequences += reader.InvalidSequences;
                    stats.Note($"{file}: {reader.InvalidSequences} invalid UTF-8 sequence(s)");
                }
                if (reader.HugeLines > 0)
                {
                    stats.HugeLines += reader.HugeLines;
                    stats.Note($"{file}: {reader.HugeLines} line(s) over {Utf8LineReader.MaxLineChars} characters");
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // The part of the file read before the error still forms a document; the rest is lost.
                if (inDocument) EndDocument();
                stats.UnreadableFiles++;
                stats.Note($"{file}: unreadable ({e.Message})");
            }
            bytesBefore += Math.Max(fileBytes, SizeOrZero(file));
        }
        progress?.Invoke(new PrepareProgress(files.Count, files.Count, bytesTotal, bytesTotal, stats.Examples, null));

        if (writer.Examples == 0)
            throw new InvalidDataException($"--input: the {files.Count} file(s) hold no text to make examples from");
        stats.Tokens = writer.Tokens;
        return writer.Finish(options.Seed, stats);

        void EndDocument()
        {
            Emit(builder.EndDocument());
            stats.Documents++;
            inDocument = false;
        }
    }

    private static long SizeOrZero(string file)
    {
        try { return new FileInfo(file).Length; }
        catch (IOException) { return 0; }
    }
}
