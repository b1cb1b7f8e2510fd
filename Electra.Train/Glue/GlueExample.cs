namespace Electra.Train.Glue;

/// <summary>
/// One labelled example. <see cref="Label"/> is the class id (index into <see cref="GlueTask.Labels"/>), or -1 for
/// STS-B, whose target is <see cref="Score"/> (null for every classification task).
/// </summary>
public sealed record GlueExample(string TextA, string? TextB, int Label, float? Score);

/// <summary>The examples of one file, with how it was read and how many rows GLUE's own known breakage cost.</summary>
public sealed record GlueDataset(GlueTask Task, string Path, GlueLayout Layout, bool HadHeader, IReadOnlyList<GlueExample> Examples, int SkippedRows);

/// <summary>A row of a GLUE file that cannot be read; the message starts with file:line.</summary>
public sealed class GlueDataException(string message) : FormatException(message);
