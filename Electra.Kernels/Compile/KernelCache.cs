using System.Security.Cryptography;
using System.Text;

namespace Electra.Cuda.Compile;

/// <summary>
/// Compiled kernels on disk, keyed by SHA-256 of (source, headers, options, NVRTC version, arch): a changed kernel,
/// compiler or device gets a fresh compile, and a warm start loads a CUBIN instead of running NVRTC.
/// Location: $ELECTRA_KERNEL_CACHE, else $XDG_CACHE_HOME/electra/kernels, else ~/.cache/electra/kernels.
/// </summary>
public sealed class KernelCache(string directory)
{
    public string Directory { get; } = directory;

    public static string DefaultDirectory
    {
        get
        {
            var env = Environment.GetEnvironmentVariable("ELECTRA_KERNEL_CACHE");
            if (!string.IsNullOrWhiteSpace(env)) return env;
            var xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
            var root = !string.IsNullOrWhiteSpace(xdg) ? xdg : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
            return Path.Combine(root, "electra", "kernels");
        }
    }

    public static KernelCache Default => new(DefaultDirectory);

    /// <summary>The key of one compile: hex SHA-256 of everything that changes its output.</summary>
    public static string Key(string source, IReadOnlyDictionary<string, string> headers, IEnumerable<string> options, (int, int) nvrtcVersion, int arch)
    {
        var sb = new StringBuilder();
        sb.Append("source\0").Append(source).Append('\0');
        foreach (var (name, text) in headers.OrderBy(h => h.Key, StringComparer.Ordinal)) sb.Append("header\0").Append(name).Append('\0').Append(text).Append('\0');
        foreach (var o in options) sb.Append("option\0").Append(o).Append('\0');
        sb.Append($"nvrtc\0{nvrtcVersion.Item1}.{nvrtcVersion.Item2}\0arch\0{arch}");
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(sb.ToString())));
    }

    /// <summary>The cached image for an embedded source, compiling (and storing) it on a miss.</summary>
    public CompiledKernel GetOrCompile(string sourceName, int arch, IReadOnlyList<string>? extraOptions = null)
    {
        string source = KernelSources.Read(sourceName);
        var headers = KernelSources.Headers;
        var options = NvrtcCompiler.BaseOptions(arch, out var target, out var cubin);
        if (extraOptions is not null) options.AddRange(extraOptions);
        string key = Key(source, headers, options, NvrtcCompiler.Version, arch);
        string stem = Path.GetFileNameWithoutExtension(sourceName);
        string path = Path.Combine(Directory, $"{stem}-{target}-{key[..16]}.{(cubin ? "cubin" : "ptx")}");
        try
        {
            if (File.Exists(path)) return new CompiledKernel(KernelSources.Prefix + sourceName, target, File.ReadAllBytes(path), cubin, "(from cache)");
        }
        catch (IOException)
        {
            // An unreadable entry is recompiled below.
        }
        var compiled = NvrtcCompiler.Compile(sourceName, arch, extraOptions);
        try
        {
            System.IO.Directory.CreateDirectory(Directory);
            // Write then rename, so a crash or a parallel process never leaves a half-written image under the key.
            string temp = path + $".{Environment.ProcessId}.tmp";
            File.WriteAllBytes(temp, compiled.Image);
            File.Move(temp, path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A read-only cache only costs a recompile next time.
        }
        return compiled;
    }

    /// <summary>What the cache holds: (file name, bytes, last written), newest first.</summary>
    public IReadOnlyList<(string Name, long Bytes, DateTime Written)> Entries()
    {
        if (!System.IO.Directory.Exists(Directory)) return [];
        return new DirectoryInfo(Directory).EnumerateFiles()
            .Where(f => f.Extension is ".cubin" or ".ptx")
            .OrderByDescending(f => f.LastWriteTimeUtc)
            .Select(f => (f.Name, f.Length, f.LastWriteTimeUtc))
            .ToArray();
    }
}
