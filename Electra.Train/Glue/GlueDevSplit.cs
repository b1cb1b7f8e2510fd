using System.Text;

namespace Electra.Train.Glue;

/// <summary>Where a task's files are read from, and where they came from.</summary>
/// <param name="Dir">The folder holding the task's train and dev files, as <see cref="GlueReader"/> reads them.</param>
/// <param name="SourceDev">The dev file given with the data, or null when dev is held out of <paramref name="SourceTrain"/>.</param>
/// <param name="DevFraction">The share of <paramref name="SourceTrain"/> held out as dev, when <paramref name="SourceDev"/> is null.</param>
public sealed record GlueTaskData(GlueTask Task, string Dir, string SourceTrain, string? SourceDev, double DevFraction = 0)
{
    public bool IsSplit => SourceDev is null;
}

/// <summary>
/// A deterministic dev split for a task that comes with a training file only (CoLA in ../shared/data): the
/// round(fraction·n) data rows whose text has the smallest FNV-1a 64-bit hash become dev.tsv, the rest train.tsv,
/// each in its original order, a header (if any) on both. The split depends only on the rows themselves — not on
/// their order, a seed or a random generator's implementation — so it is the same on every machine and every
/// .NET version.
/// </summary>
public static class GlueDevSplit
{
    /// <summary>
    /// <paramref name="glueDir"/>/task when its dev file exists; otherwise <paramref name="splitDir"/>/task, where
    /// <see cref="Write"/> puts the split. Writes nothing.
    /// </summary>
    public static GlueTaskData Locate(GlueTask task, string glueDir, string splitDir, double fraction)
    {
        var source = Path.GetFullPath(Path.Combine(glueDir, task.Name));
        var train = Path.Combine(source, task.TrainFile);
        if (!File.Exists(train))
            throw new FileNotFoundException($"{task.Name}: {train} not found (--glue DIR holds <task>/{task.TrainFile} and <task>/{task.DevFile})", train);
        var dev = Path.Combine(source, task.DevFile);
        if (File.Exists(dev)) return new GlueTaskData(task, source, train, dev);
        if (!(fraction > 0 && fraction < 1))
            throw new ArgumentException($"--dev-fraction must be in (0, 1), got {fraction}");
        return new GlueTaskData(task, Path.GetFullPath(Path.Combine(splitDir, task.Name)), train, null, fraction);
    }

    /// <summary>Writes the split of a task located with no dev file; says what it wrote (null when there was nothing to split).</summary>
    public static string? Write(GlueTaskData data)
    {
        if (!data.IsSplit) return null;
        var task = data.Task;
        var dataset = GlueReader.Read(task, data.SourceTrain);             // refuses a malformed file before anything is written
        var lines = File.ReadAllLines(data.SourceTrain, Encoding.UTF8);
        int first = 0;
        while (first < lines.Length && string.IsNullOrWhiteSpace(lines[first])) first++;
        string? header = dataset.HadHeader ? lines[first] : null;
        var rows = lines.Skip(dataset.HadHeader ? first + 1 : 0).Where(l => !string.IsNullOrWhiteSpace(l)).ToList();
        var (trainRows, devRows) = Split(rows, data.DevFraction);
        if (devRows.Count == 0 || trainRows.Count == 0)
            throw new ArgumentException($"{data.SourceTrain}: {rows.Count} rows are too few to hold out {data.DevFraction * 100:0.##}% as dev and keep a training set");

        Directory.CreateDirectory(data.Dir);
        WriteRows(Path.Combine(data.Dir, task.TrainFile), header, trainRows);
        WriteRows(Path.Combine(data.Dir, task.DevFile), header, devRows);
        return $"{task.Name}: no {task.DevFile} beside {data.SourceTrain}; dev = {devRows.Count:N0} of its {rows.Count:N0} rows " +
            $"({data.DevFraction * 100:0.##}%, the smallest FNV-1a 64 hashes of the row text), train = the other {trainRows.Count:N0} → {data.Dir}";
    }

    /// <summary>The rows split into (train, dev), each in the order given.</summary>
    public static (List<string> Train, List<string> Dev) Split(IReadOnlyList<string> rows, double fraction)
    {
        int devCount = (int)Math.Round(fraction * rows.Count, MidpointRounding.AwayFromZero);
        var ranked = Enumerable.Range(0, rows.Count).OrderBy(i => Fnv1a64(rows[i])).ThenBy(i => i).Take(devCount).ToHashSet();
        var train = new List<string>(rows.Count - devCount);
        var dev = new List<string>(devCount);
        for (int i = 0; i < rows.Count; i++) (ranked.Contains(i) ? dev : train).Add(rows[i]);
        return (train, dev);
    }

    public static ulong Fnv1a64(string text)
    {
        ulong hash = 14695981039346656037UL;
        foreach (byte b in Encoding.UTF8.GetBytes(text))
        {
            hash ^= b;
            hash *= 1099511628211UL;
        }
        return hash;
    }

    private static void WriteRows(string path, string? header, List<string> rows)
    {
        var tmp = path + ".tmp";
        using (var w = new StreamWriter(tmp, append: false, new UTF8Encoding(false)))
        {
            w.NewLine = "\n";
            if (header is not null) w.WriteLine(header);
            foreach (var row in rows) w.WriteLine(row);
        }
        File.Move(tmp, path, overwrite: true);
    }
}
