using System.CommandLine;
using Electra.Train.Commands;

var root = new RootCommand("electra — ELECTRA pretraining and fine-tuning on a tensor engine of its own (CPU and CUDA)");
foreach (var command in CommandList.All()) root.Subcommands.Add(command);
return root.Parse(args).Invoke();
