using System.CommandLine;
using System.Text.Json.Nodes;
using Electra.Model;
using Electra.Model.Checkpoints;
using Electra.Train.Commands;

namespace Electra.Tests.Train;

/// <summary>
/// evaluate with a --task other than the one the model was fine-tuned on: the label counts match (SST-2 and CoLA
/// both have two), so it runs, and the numbers would silently measure the wrong thing without the warning.
/// </summary>
public class EvaluateCommandTests
{
    private string _dir = "";

    [SetUp]
    public void SetUp() => _dir = TestData.TempDir();

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    private static (int Code, string Out, string Error) Cli(params string[] args)
    {
        var root = new RootCommand();
        foreach (var c in CommandList.All()) root.Subcommands.Add(c);
        var (originalOut, originalError) = (Console.Out, Console.Error);
        var (stdout, stderr) = (new StringWriter(), new StringWriter());
        try
        {
            Console.SetOut(stdout);
            Console.SetError(stderr);
            return (root.Parse(args).Invoke(), stdout.ToString(), stderr.ToString());
        }
        finally
        {
            Console.SetOut(originalOut);
            Console.SetError(originalError);
        }
    }

    [Test]
    public void ATaskOtherThanTheModelsIsWarnedAboutAndTheJsonStaysClean()
    {
        var config = new ElectraConfig { EmbeddingSize = 16, HiddenSize = 32, NumHiddenLayers = 1, NumAttentionHeads = 2, IntermediateSize = 64, MaxPositionEmbeddings = 64 };
        var model = Path.Combine(_dir, "sst2-model");
        using (var classifier = new SequenceClassifier(config, 2, new Random(1), Device.Cpu))
            ClassifierCheckpoint.Save(model, classifier, ["0", "1"], "sst2");
        var data = Path.Combine(_dir, "dev.tsv");
        File.WriteAllText(data, "a good film\t1\nthe bad one\t0\n");

        var (code, stdout, stderr) = Cli("evaluate", "--model", model, "--task", "cola", "--data", data, "--json", "--device", "cpu");
        Assert.That(code, Is.Zero, stderr);
        Assert.That(stderr.Trim(), Is.EqualTo($"electra evaluate: warning: --task cola, but {model} was fine-tuned on sst2 (finetuning_task in its config.json)"));
        var json = JsonNode.Parse(stdout.Trim())!;
        Assert.That((json["task"]!.GetValue<string>(), json["examples"]!.GetValue<int>()), Is.EqualTo(("cola", 2)));

        // The model's own task (given or taken from its config), in any spelling: no warning.
        foreach (var task in new[] { "SST-2", "sst2" })
        {
            File.WriteAllText(data, "sentence\tlabel\na good film\t1\nthe bad one\t0\n");
            (code, _, stderr) = Cli("evaluate", "--model", model, "--task", task, "--data", data, "--json", "--device", "cpu");
            Assert.That((code, stderr), Is.EqualTo((0, "")), task);
        }
        (code, _, stderr) = Cli("evaluate", "--model", model, "--data", data, "--json", "--device", "cpu");
        Assert.That((code, stderr), Is.EqualTo((0, "")));
    }
}
