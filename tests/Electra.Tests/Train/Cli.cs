using System.CommandLine;
using System.Security.Cryptography;
using Electra.Train.Commands;

namespace Electra.Tests.Train;

/// <summary>
/// Runs <c>electra</c> commands in this process as the program would, with stdout, stderr and Spectre's console
/// captured, and snapshots folders so a refused command can be shown to have left every file as it was.
/// </summary>
public static class Cli
{
    public sealed record Result(int Code, string Out, string Error)
    {
        public override string ToString() => $"exit {Code}\n--- stdout\n{Out}\n--- stderr\n{Error}";
    }

    public static Result Run(params string[] args)
    {
        var root = new RootCommand();
        foreach (var c in CommandList.All()) root.Subcommands.Add(c);
        var (stdout, stderr) = (new StringWriter(), new StringWriter());
        var (originalOut, originalError, originalAnsi) = (Console.Out, Console.Error, Spectre.Console.AnsiConsole.Console);
        try
        {
            Console.SetOut(stdout);
            Console.SetError(stderr);
            var console = Spectre.Console.AnsiConsole.Create(new Spectre.Console.AnsiConsoleSettings
            {
                Out = new Spectre.Console.AnsiConsoleOutput(stdout),
                Ansi = Spectre.Console.AnsiSupport.No,
                Interactive = Spectre.Console.InteractionSupport.No,
            });
            console.Profile.Width = 1000;   // messages are asserted whole, not as Spectre wraps them at 80 columns
            Spectre.Console.AnsiConsole.Console = console;
            int code = root.Parse(args).Invoke();
            return new Result(code, stdout.ToString(), stderr.ToString());
        }
        finally
        {
            Console.SetOut(originalOut);
            Console.SetError(originalError);
            Spectre.Console.AnsiConsole.Console = originalAnsi;
        }
    }

    /// <summary>Every file and folder under <paramref name="dir"/> (relative path → SHA-256 of the bytes, or "dir").</summary>
    public static SortedDictionary<string, string> Snapshot(string dir)
    {
        var result = new SortedDictionary<string, string>(StringComparer.Ordinal);
        if (!Directory.Exists(dir)) return result;
        foreach (var path in Directory.EnumerateFileSystemEntries(dir, "*", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(dir, path);
            result[relative] = Directory.Exists(path) ? "dir" : Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path)));
        }
        return result;
    }
}
