using Electra.Train.Data;
using Electra.Train.Pretraining;

namespace Electra.Train.FineTuning;

/// <summary>
/// Whether a tokenizer is the one a model learned: ids from another vocabulary (even a permutation of the same one)
/// feed every token to the wrong embedding row, and the model trains without a word of complaint.
/// </summary>
public static class VocabularyCheck
{
    /// <summary>
    /// Checks <paramref name="tokenizer"/> against what the model directory records: the vocab hash of the shards a
    /// pretraining checkpoint trained on, or an HF directory's own vocab.txt. A directory that records neither passes.
    /// </summary>
    public static void Require(string modelDir, WordPieceTokenizer tokenizer)
    {
        var hfDir = Path.GetFullPath(ModelLoading.DiscriminatorDir(modelDir));
        var checkpoint = Path.GetDirectoryName(hfDir)!;
        if (Path.GetFileName(hfDir) == PretrainCheckpoint.DiscriminatorDir && PretrainCheckpoint.Exists(checkpoint))
        {
            var state = PretrainCheckpoint.ReadState(checkpoint);
            if (state.VocabHash is not null && !string.Equals(state.VocabHash, tokenizer.VocabHash, StringComparison.OrdinalIgnoreCase))
                throw new ArgumentException(
                    $"--vocab {tokenizer.Vocabulary.Path}: its vocab hash {tokenizer.VocabHash} differs from {state.VocabHash}, the vocabulary of the shards " +
                    $"{checkpoint} was pretrained on ({state.Settings.DataDir}); pass the --vocab that data was prepared with");
            return;
        }
        var own = Path.Combine(hfDir, "vocab.txt");
        if (!File.Exists(own)) return;
        var theirs = Vocabulary.Load(own).Tokens;
        var ours = tokenizer.Vocabulary.Tokens;
        int n = Math.Min(theirs.Count, ours.Count), first = 0;
        while (first < n && theirs[first] == ours[first]) first++;
        if (first == n && theirs.Count == ours.Count) return;
        var where = first < n
            ? $"line {first + 1} is \"{ours[first]}\" here, \"{theirs[first]}\" there"
            : $"{ours.Count} tokens here, {theirs.Count} there";
        throw new ArgumentException($"--vocab {tokenizer.Vocabulary.Path}: not the model's own {own} ({where}); pass --vocab {own}");
    }
}
