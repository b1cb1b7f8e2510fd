using System.CommandLine;

namespace Electra.Train.Commands;

/// <summary>Every subcommand of the <c>electra</c> CLI, in the order help lists them.</summary>
public static class CommandList
{
    public static IEnumerable<Command> All()
    {
        yield return InfoCommand.Create();
    }
}
