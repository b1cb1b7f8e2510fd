using System.Runtime.InteropServices;
using Electra.IO;
using Electra.Nn;

namespace Electra.Model.Checkpoints;

/// <summary>Thrown when a checkpoint does not fit a model; the message lists every problem by tensor name.</summary>
public sealed class CheckpointMismatchException(string message) : Exception(message);

/// <summary>
/// Copies tensors from a safetensors file into a module's parameters by (HF) name. The file's names may carry a
/// prefix the module's lack, or lack one the module's carry (e.g. <c>electra.</c>); a name map handles other
/// layouts (BERT bodies). Every missing, mis-shaped or unexpected tensor is reported together, by name.
/// </summary>
public static class StateLoader
{
    /// <summary>Buffers HF saves that hold no learned state.</summary>
    private static bool IsIgnorableBuffer(string name) => name.EndsWith("position_ids", StringComparison.Ordinal);

    /// <param name="module">The module to fill.</param>
    /// <param name="file">An open safetensors file.</param>
    /// <param name="resolve">Maps one of the module's HF names to the file's name for it (null when absent).</param>
    /// <param name="allowUnexpected">Names the file may hold that the module does not use (e.g. a head not loaded).</param>
    public static void Load(Module module, SafetensorsFile file, Func<string, string?> resolve, Func<string, bool>? allowUnexpected = null)
    {
        var problems = new List<string>();
        var used = new HashSet<string>(StringComparer.Ordinal);
        var assignments = new List<(Tensor param, float[] data)>();
        foreach (var (name, param) in module.NamedParameters().DistinctBy(p => p.Tensor, ReferenceEqualityComparer.Instance))
        {
            var sources = HfNames.SourcesOf(name);
            var data = new List<float>();
            var shapes = new List<Shape>();
            bool ok = true;
            foreach (var source in sources)
            {
                var stored = resolve(source);
                if (stored is null || !file.Contains(stored))
                {
                    problems.Add($"missing tensor '{source}' (expected shape {ExpectedPart(param, sources.Length)})");
                    ok = false;
                    continue;
                }
                used.Add(stored);
                var info = file.Info(stored);
                shapes.Add(info.Shape);
                if (!ok) continue;
                using var t = file.ReadTensor(stored);
                if (t.DType != DType.F32) { problems.Add($"tensor '{stored}' is {t.DType.Name()}, expected a floating tensor"); ok = false; continue; }
                data.AddRange(t.ToFloatArray());
            }
            if (!ok) continue;
            var expected = ExpectedPart(param, sources.Length);
            if (shapes.Any(s => s != expected))
            {
                problems.Add($"tensor '{resolve(sources[0])}' has shape {shapes.First(s => s != expected)}, the model needs {expected}");
                continue;
            }
            assignments.Add((param, data.ToArray()));
        }
        foreach (var stored in file.Names)
            if (!used.Contains(stored) && !IsIgnorableBuffer(stored) && !(allowUnexpected?.Invoke(stored) ?? false))
                problems.Add($"unexpected tensor '{stored}'");
        if (problems.Count > 0)
            throw new CheckpointMismatchException($"{file.Path} does not fit the model:\n  " + string.Join("\n  ", problems));
        foreach (var (param, data) in assignments)
            param.Backend.CopyFromHost(MemoryMarshal.AsBytes(data.AsSpan()), param);
        Autocast.ForgetCopies(assignments.Select(a => a.param)); // bf16 copies of the old values would be stale
    }

    private static Shape ExpectedPart(Tensor param, int parts)
    {
        if (parts == 1) return param.Shape;
        var dims = param.Shape.ToArray();
        dims[0] /= parts;
        return new Shape(dims);
    }
}
