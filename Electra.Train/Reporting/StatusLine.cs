using Spectre.Console;

namespace Electra.Train.Reporting;

/// <summary>
/// A run's status lines (what it runs, how it ended): coloured on a terminal; plain and whole in a log or pipe,
/// where Spectre would break them at 80 columns and a path or a "--resume DIR" hint would be split across lines.
/// </summary>
public static class StatusLine
{
    public static void Write(string text, string? style = null)
    {
        if (!AnsiConsole.Profile.Capabilities.Interactive) Console.WriteLine(text);
        else if (style is null) AnsiConsole.WriteLine(text);
        else AnsiConsole.MarkupLine($"[{style}]{Markup.Escape(text)}[/]");
    }
}
