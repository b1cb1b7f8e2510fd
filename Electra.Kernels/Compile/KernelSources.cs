using System.Reflection;

namespace Electra.Cuda.Compile;

/// <summary>The kernels-cu/*.cu sources and our one header, embedded in this assembly under "kernels-cu/NAME".</summary>
public static class KernelSources
{
    public const string Prefix = "kernels-cu/";
    public const string CommonHeader = "common.cuh";

    private static readonly Assembly Assembly = typeof(KernelSources).Assembly;

    /// <summary>File names (e.g. "adamw.cu") of every embedded kernel source, sorted.</summary>
    public static IReadOnlyList<string> Names { get; } = Assembly.GetManifestResourceNames()
        .Where(n => n.StartsWith(Prefix, StringComparison.Ordinal) && n.EndsWith(".cu", StringComparison.Ordinal))
        .Select(n => n[Prefix.Length..])
        .Order(StringComparer.Ordinal)
        .ToArray();

    /// <summary>Text of an embedded source or header by file name.</summary>
    public static string Read(string fileName)
    {
        using var stream = Assembly.GetManifestResourceStream(Prefix + fileName)
            ?? throw new FileNotFoundException($"kernel source '{fileName}' is not embedded in {Assembly.GetName().Name} (have: {string.Join(", ", Names)})");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    /// <summary>The headers a kernel may include: only our own.</summary>
    public static IReadOnlyDictionary<string, string> Headers { get; } = new Dictionary<string, string> { [CommonHeader] = Read(CommonHeader) };
}
