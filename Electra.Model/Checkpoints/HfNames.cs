using Electra.Nn;

namespace Electra.Model.Checkpoints;

/// <summary>
/// Translates between a module's parameter names and Hugging Face's. They agree everywhere but attention: we keep
/// Q, K and V as one fused projection (<c>attention.self.qkv</c>, [3H, H]) so one GEMM computes all three, while HF
/// stores <c>attention.self.query</c>, <c>.key</c> and <c>.value</c> separately.
/// </summary>
public static class HfNames
{
    private const string Fused = ".attention.self.qkv.";
    private static readonly string[] Parts = ["query", "key", "value"];

    /// <summary>The module's parameters under HF names, Q/K/V split into new tensors (on the CPU).</summary>
    public static IEnumerable<(string Name, Tensor Tensor)> Export(Module module, string prefix = "")
    {
        foreach (var (name, t) in module.NamedParameters())
        {
            int at = name.IndexOf(Fused, StringComparison.Ordinal);
            if (at < 0)
            {
                yield return (prefix + name, t);
                continue;
            }
            string head = name[..at] + ".attention.self.", leaf = name[(at + Fused.Length)..];
            var all = t.ToFloatArray();
            int rows = t.Shape[0] / 3, cols = t.Rank == 2 ? t.Shape[1] : 1;
            for (int k = 0; k < 3; k++)
            {
                var part = all.AsSpan(k * rows * cols, rows * cols).ToArray();
                Shape shape = t.Rank == 2 ? new Shape(rows, cols) : new Shape(rows);
                yield return (prefix + head + Parts[k] + "." + leaf, TensorScope.Outside(() => Tensor.FromArray(part, shape)));
            }
        }
    }

    /// <summary>
    /// The HF names a parameter is stored under: itself, or the three parts of a fused QKV tensor in order.
    /// </summary>
    public static string[] SourcesOf(string name)
    {
        int at = name.IndexOf(Fused, StringComparison.Ordinal);
        if (at < 0) return [name];
        string head = name[..at] + ".attention.self.", leaf = name[(at + Fused.Length)..];
        return Parts.Select(p => head + p + "." + leaf).ToArray();
    }
}
