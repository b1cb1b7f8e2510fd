using System.CommandLine;
using System.Runtime.InteropServices;
using Electra.Cuda;

namespace Electra.Train.Commands;

/// <summary>`electra info`: the runtime, the CUDA device, driver and libraries found (or why none), the kernel cache.</summary>
public static class InfoCommand
{
    public static Command Create()
    {
        var command = new Command("info", "Show the .NET runtime, the CUDA device, driver and libraries found (or why none), and the kernel cache");
        command.SetAction(_ =>
        {
            Console.WriteLine($"{"runtime",-14} .NET {Environment.Version} on {RuntimeInformation.OSDescription} ({RuntimeInformation.ProcessArchitecture})");
            Console.WriteLine($"{"cpu",-14} {Environment.ProcessorCount} logical cores");
            foreach (var (key, value) in CudaInfo.Gather()) Console.WriteLine($"{key,-14} {value}");
            return 0;
        });
        return command;
    }
}
