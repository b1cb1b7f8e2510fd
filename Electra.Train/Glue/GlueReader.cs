using System.Globalization;
using nietras.SeparatedValues;

namespace Electra.Train.Glue;

/// <summary>
/// Reads GLUE TSV files. Quoting is off: GLUE sentences contain unbalanced quotes, and the files never quote fields
/// (a tab inside a sentence does not occur). The layout is recognised from the first row: its column count picks
/// one of the task's layouts, and its label cell equal to the task's header name ("label", "Quality", "gold_label"…)
/// marks a header.
/// </summary>
public static class GlueReader
{
    /// <summary>The task's train file (or dev file) in <paramref name="dataDir"/>.</summary>
    public static GlueDataset ReadSplit(GlueTask task, string dataDir, bool dev)
    {
        var path = Path.Combine(dataDir, dev ? task.DevFile : task.TrainFile);
        if (!File.Exists(path))
            throw new FileNotFoundException($"{task.Name}: {path} not found (a GLUE {task.Name} folder holds {task.TrainFile} and {task.DevFile})", path);
        return Read(task, path);
    }

    public static GlueDataset Read(GlueTask task, string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{task.Name}: {path} not found", path);

        var options = Sep.New('\t').Reader(o => o with
        {
            HasHeader = false,
            DisableColCountCheck = true,
            DisableQuotesParsing = true,
        });
        using var reader = options.FromFile(path);

        GlueLayout? layout = null;
        int columns = 0;
        bool hadHeader = false;
        int skipped = 0;
        var examples = new List<GlueExample>();
        foreach (var row in reader)
        {
            if (row.Span.IsWhiteSpace()) continue;
            // With quoting off every row is one line (blank lines included), so the row index is the line number.
            // Sep 0.17.1's LineNumberFrom says 2 for the first row of a file read without a header.
            int line = row.RowIndex + 1;
            if (layout is null)
            {
                (layout, columns) = ChooseLayout(task, path, line, row.ColCount);
                if (row[layout.LabelIndex(row.ColCount)].Span.Trim().SequenceEqual(task.HeaderLabel))
                {
                    hadHeader = true;
                    continue;
                }
            }

            if (row.ColCount != columns)
            {
                if (task.SkipShortRows && row.ColCount < columns)
                {
                    skipped++;
                    continue;
                }
                throw new GlueDataException($"{path}:{line}: expected {columns} tab-separated columns ({layout.Description}), found {row.ColCount}");
            }

            var textA = row[layout.TextA].ToString();
            var textB = layout.IsPair ? row[layout.TextB].ToString() : null;
            var labelText = row[layout.LabelIndex(columns)].Span.Trim();
            if (task.IsRegression)
            {
                if (!float.TryParse(labelText, NumberStyles.Float, CultureInfo.InvariantCulture, out var score) || !float.IsFinite(score))
                    throw new GlueDataException($"{path}:{line}: score '{labelText}' is not a number");
                if (score is < 0f or > 5f)
                    throw new GlueDataException($"{path}:{line}: score {labelText} is outside STS-B's range [0, 5]");
                examples.Add(new GlueExample(textA, textB, -1, score));
            }
            else
            {
                int label = task.LabelId(labelText.ToString());
                if (label < 0)
                    throw new GlueDataException($"{path}:{line}: label '{labelText}' is not one of {task.Name}'s labels ({string.Join(", ", task.Labels)})");
                examples.Add(new GlueExample(textA, textB, label, null));
            }
        }
        if (layout is null) throw new GlueDataException($"{path}: empty file (expected {task.Name} rows: {task.Layouts[0].Description})");
        return new GlueDataset(task, path, layout, hadHeader, examples, skipped);
    }

    private static (GlueLayout Layout, int Columns) ChooseLayout(GlueTask task, string path, int line, int count)
    {
        foreach (var layout in task.Layouts)
        {
            if (layout.Columns == count) return (layout, count);
            if (layout.Columns == 0 && count >= layout.MinColumns) return (layout, count);
        }
        var expected = string.Join(" or ", task.Layouts.Select(l => l.Columns == 0
            ? $"at least {l.MinColumns} columns ({l.Description})"
            : $"{l.Columns} columns ({l.Description})"));
        throw new GlueDataException($"{path}:{line}: first row has {count} tab-separated columns; {task.Name} expects {expected}");
    }
}
