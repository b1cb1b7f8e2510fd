namespace Electra.Train.Glue;

/// <summary>
/// The columns of one TSV layout. <see cref="Columns"/> 0 means "as many as the header has" (MNLI's train and dev
/// files differ); <see cref="Label"/> -1 means the last column.
/// </summary>
public sealed record GlueLayout(string Description, int Columns, int TextA, int TextB, int Label)
{
    public bool IsPair => TextB >= 0;

    /// <summary>Fewest columns a row needs for every index this layout reads.</summary>
    public int MinColumns => Math.Max(Math.Max(TextA, TextB), Label) + 1;

    public int LabelIndex(int columnCount) => Label < 0 ? columnCount - 1 : Label;
}

/// <summary>
/// One GLUE task: its label set, file names and the column layouts its TSVs come in. Labels are the strings the GLUE
/// files hold, in the order of their class ids (id = index). STS-B is a regression: no labels, a score in [0, 5].
/// </summary>
public sealed record GlueTask(
    string Name,
    IReadOnlyList<string> Labels,
    string TrainFile,
    string DevFile,
    string HeaderLabel,
    IReadOnlyList<GlueLayout> Layouts,
    bool SkipShortRows = false)
{
    public bool IsRegression => Labels.Count == 0;

    /// <summary>Outputs of the classifier: the number of labels, or 1 for a regression.</summary>
    public int NumLabels => IsRegression ? 1 : Labels.Count;

    public bool IsPair => Layouts[0].IsPair;

    public static readonly GlueTask Sst2 = new("sst2", ["0", "1"], "train.tsv", "dev.tsv", "label",
        [new("SST-2: sentence, label", 2, 0, -1, 1)]);

    public static readonly GlueTask Cola = new("cola", ["0", "1"], "train.tsv", "dev.tsv", "label",
        [
            new("CoLA (GLUE, no header): source, label, original mark, sentence", 4, 3, -1, 1),
            new("CoLA (simple): sentence, label", 2, 0, -1, 1),
        ]);

    public static readonly GlueTask Mrpc = new("mrpc", ["0", "1"], "train.tsv", "dev.tsv", "Quality",
        [new("MRPC: Quality, #1 ID, #2 ID, #1 String, #2 String", 5, 3, 4, 0)]);

    public static readonly GlueTask Rte = new("rte", ["entailment", "not_entailment"], "train.tsv", "dev.tsv", "label",
        [new("RTE: index, sentence1, sentence2, label", 4, 1, 2, 3)]);

    public static readonly GlueTask Qnli = new("qnli", ["entailment", "not_entailment"], "train.tsv", "dev.tsv", "label",
        [new("QNLI: index, question, sentence, label", 4, 1, 2, 3)]);

    /// <summary>
    /// QQP is the one task whose rows the reference GLUE processor (HF transformers' QqpProcessor) skips when they
    /// lack fields instead of failing; we do the same for rows with too few columns, and count them.
    /// </summary>
    public static readonly GlueTask Qqp = new("qqp", ["0", "1"], "train.tsv", "dev.tsv", "is_duplicate",
        [new("QQP: id, qid1, qid2, question1, question2, is_duplicate", 6, 3, 4, 5)], SkipShortRows: true);

    public static readonly GlueTask Mnli = new("mnli", ["entailment", "neutral", "contradiction"], "train.tsv", "dev_matched.tsv", "gold_label",
        [new("MNLI: index, promptID, pairID, genre, 4 parses, sentence1, sentence2, annotator labels…, gold_label", 0, 8, 9, -1)]);

    public static readonly GlueTask Stsb = new("stsb", [], "train.tsv", "dev.tsv", "score",
        [new("STS-B: index, genre, filename, year, old_index, source1, source2, sentence1, sentence2, score", 10, 7, 8, -1)]);

    public static IReadOnlyList<GlueTask> All { get; } = [Sst2, Cola, Mrpc, Rte, Qnli, Qqp, Mnli, Stsb];

    public static GlueTask Get(string name)
    {
        var key = name.Trim().ToLowerInvariant().Replace("-", "");
        return All.FirstOrDefault(t => t.Name == key)
            ?? throw new ArgumentException($"unknown GLUE task '{name}'; expected one of {string.Join(", ", All.Select(t => t.Name))}");
    }

    public int LabelId(string text)
    {
        for (int i = 0; i < Labels.Count; i++)
            if (Labels[i] == text) return i;
        return -1;
    }

    public override string ToString() => Name;
}
