using System.CommandLine;

namespace Electra.Train.Commands;

/// <summary>--cuda-graph on|off, shared by the commands that train.</summary>
internal static class CudaGraphOption
{
    public static Option<string> Create(string description) => new("--cuda-graph") { Description = description, DefaultValueFactory = _ => "on" };

    public static bool Parse(string value) => value switch
    {
        "on" => true,
        "off" => false,
        _ => throw new ArgumentException($"--cuda-graph: expected on or off, got '{value}'"),
    };
}
