using System.CommandLine;

namespace Electra.Train.Commands;

/// <summary>Every subcommand of the <c>electra</c> CLI, in the order help lists them.</summary>
public static class CommandList
{
    public static IEnumerable<Command> All()
    {
        yield return PrepareDataCommand.Create();
        yield return PretrainCommand.Create();
        yield return FinetuneCommand.Create();
        yield return EvaluateCommand.Create();
        yield return ScoreCommand.Create();
        yield return EmbedCommand.Create();
        yield return ExperimentCommand.Create();
        yield return BenchCommand.Create();
        yield return PlotCommand.Create();
        yield return InfoCommand.Create();
    }
}
