using System.Reflection;
using System.Runtime.InteropServices;

namespace Electra.Cuda.Interop;

/// <summary>
/// Finds the CUDA libraries at run time. The bindings name logical libraries ("cuda", "nvrtc", "cublas",
/// "cublasLt"); this resolver maps each to a real file: an environment override when set (and only it, so a
/// wrong override is reported rather than silently bypassed), else the versioned sonames, else the usual install
/// folders. The toolkit's <c>stubs</c> folder is never tried: its libcuda loads but every call fails.
/// </summary>
public static class NativeLibraries
{
    public const string Cuda = "electra-cuda";
    public const string Nvrtc = "electra-nvrtc";
    public const string Cublas = "electra-cublas";
    public const string CublasLt = "electra-cublasLt";

    private static readonly Lock Gate = new();
    private static readonly Dictionary<string, nint> Loaded = new();
    private static bool _registered;

    private static readonly string[] Folders =
    [
        "/usr/local/cuda/lib64",
        "/usr/local/cuda/targets/x86_64-linux/lib",
        "/usr/lib/x86_64-linux-gnu",
        "/usr/lib64",
        "/usr/local/nvidia/lib64",
        "/usr/lib/wsl/lib",
        "/opt/cuda/lib64",
    ];

    /// <summary>What each logical library is called: its environment override and its sonames, newest first.</summary>
    public static (string EnvVar, string[] Sonames) Describe(string logical) => logical switch
    {
        Cuda => ("ELECTRA_LIBCUDA", ["libcuda.so.1"]),
        Nvrtc => ("ELECTRA_LIBNVRTC", ["libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2"]),
        Cublas => ("ELECTRA_LIBCUBLAS", ["libcublas.so.13", "libcublas.so.12", "libcublas.so.11"]),
        CublasLt => ("ELECTRA_LIBCUBLASLT", ["libcublasLt.so.13", "libcublasLt.so.12", "libcublasLt.so.11"]),
        _ => throw new ArgumentException($"unknown CUDA library '{logical}'", nameof(logical)),
    };

    /// <summary>Installs the resolver on this assembly (idempotent). The binding classes call it first.</summary>
    internal static void EnsureResolver()
    {
        lock (Gate)
        {
            if (_registered) return;
            NativeLibrary.SetDllImportResolver(typeof(NativeLibraries).Assembly, Resolve);
            _registered = true;
        }
    }

    private static nint Resolve(string name, Assembly assembly, DllImportSearchPath? path)
    {
        if (name is not (Cuda or Nvrtc or Cublas or CublasLt)) return 0;
        // Returning 0 makes the runtime throw DllNotFoundException; Require gives the better message, so callers
        // that want it call Require before the first binding call.
        return TryRequire(name, out var handle, out _) ? handle : 0;
    }

    /// <summary>The loaded library's handle; throws <see cref="CudaLibraryNotFoundException"/> listing every path tried.</summary>
    public static nint Require(string logical)
    {
        if (TryRequire(logical, out var handle, out var tried)) return handle;
        throw new CudaLibraryNotFoundException(logical, tried);
    }

    public static bool TryRequire(string logical, out nint handle, out IReadOnlyList<string> tried)
    {
        lock (Gate)
        {
            if (Loaded.TryGetValue(logical, out handle)) { tried = []; return true; }
            var (env, sonames) = Describe(logical);
            handle = Load(Environment.GetEnvironmentVariable(env), sonames, out var list);
            tried = list;
            if (handle == 0) return false;
            Loaded[logical] = handle;
            return true;
        }
    }

    /// <summary>The path a loaded library came from, or null when it is not loaded.</summary>
    public static string? LoadedPath(string logical)
    {
        lock (Gate)
        {
            if (!Loaded.TryGetValue(logical, out var h)) return null;
            return Dl.PathOf(h);
        }
    }

    /// <summary>
    /// Tries the candidates in order and returns the first handle that loads (0 when none does); <paramref name="tried"/>
    /// gets every attempt with the loader's reason. With an override only the override is tried.
    /// </summary>
    public static nint Load(string? overridePath, IReadOnlyList<string> sonames, out List<string> tried)
    {
        tried = [];
        var candidates = new List<string>();
        if (!string.IsNullOrWhiteSpace(overridePath)) candidates.Add(overridePath);
        else
        {
            candidates.AddRange(sonames);
            foreach (var folder in Folders)
                foreach (var so in sonames)
                    candidates.Add(Path.Combine(folder, so));
        }
        foreach (var c in candidates)
        {
            if (c.Contains("/stubs/", StringComparison.Ordinal)) { tried.Add($"{c} (skipped: toolkit stub)"); continue; }
            // A bare soname goes through the system loader (LD_LIBRARY_PATH, ldconfig cache); a path must exist.
            if (c.Contains('/') && !File.Exists(c)) { tried.Add($"{c} (no such file)"); continue; }
            try
            {
                var h = NativeLibrary.Load(c);
                var real = Dl.PathOf(h);
                if (real is not null && real.Contains("/stubs/", StringComparison.Ordinal))
                {
                    NativeLibrary.Free(h);
                    tried.Add($"{c} (skipped: resolves to the toolkit stub {real})");
                    continue;
                }
                return h;
            }
            catch (DllNotFoundException e)
            {
                tried.Add($"{c} ({LoaderReason(e.Message)})");
            }
            catch (BadImageFormatException e)
            {
                tried.Add($"{c} (not a loadable library: {FirstLine(e.Message)})");
            }
        }
        return 0;
    }

    // The runtime's message opens with generic advice; the dlerror line ("…: cannot open shared object file…") is the reason.
    private static string LoaderReason(string message)
    {
        var line = message.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.Contains("cannot open", StringComparison.Ordinal) || l.Contains("undefined symbol", StringComparison.Ordinal));
        return line ?? "not found by the system loader (LD_LIBRARY_PATH, ldconfig cache)";
    }

    private static string FirstLine(string s)
    {
        int i = s.IndexOf('\n');
        return (i < 0 ? s : s[..i]).Trim();
    }
}

/// <summary>A CUDA library could not be loaded from any place we know; the message lists them all.</summary>
public sealed class CudaLibraryNotFoundException(string logical, IReadOnlyList<string> tried)
    : CudaUnavailableException($"{NativeLibraries.Describe(logical).Sonames[0]} could not be loaded (override: {NativeLibraries.Describe(logical).EnvVar}); paths tried:\n  " +
                               string.Join("\n  ", tried))
{
    public IReadOnlyList<string> Tried { get; } = tried;
}

/// <summary>dladdr/dlinfo to name the file a handle came from (for `electra info` and the stub check).</summary>
internal static unsafe partial class Dl
{
    [LibraryImport("libc.so.6", EntryPoint = "dlinfo")]
    private static partial int DlInfo(nint handle, int request, out nint info);

    private const int RtldDiLinkmap = 2;

    // struct link_map { ElfW(Addr) l_addr; char *l_name; ... }
    public static string? PathOf(nint handle)
    {
        try
        {
            if (!OperatingSystem.IsLinux() || DlInfo(handle, RtldDiLinkmap, out var map) != 0 || map == 0) return null;
            var name = *(nint*)(map + sizeof(nint));
            return name == 0 ? null : Marshal.PtrToStringUTF8(name);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return null;
        }
    }
}
