using System.Runtime.InteropServices;
using System.Text;
using Electra.Cuda.Interop;

namespace Electra.Cuda.Compile;

/// <summary>The result of one NVRTC compile: a CUBIN for the exact arch, or PTX when NVRTC is older than the device.</summary>
public sealed record CompiledKernel(string SourceName, string Target, byte[] Image, bool IsCubin, string Log);

/// <summary>
/// Compiles CUDA C++ with NVRTC. Needs no GPU: the Nvrtc tests and the CI run it with Debian's NVRTC 11.8.
/// Options: the device's exact arch, <c>-default-device</c> (every function is device code unless marked),
/// C++17, line info for profilers; headers are handed to NVRTC by name, so no include path is searched.
/// </summary>
public static unsafe class NvrtcCompiler
{
    private static readonly Lock Gate = new();
    private static (int, int)? _version;
    private static int[]? _archs;

    public static bool IsAvailable(out string reason)
    {
        if (NativeLibraries.TryRequire(NativeLibraries.Nvrtc, out _, out var tried))
        {
            reason = "";
            return true;
        }
        reason = "NVRTC not found; tried:\n  " + string.Join("\n  ", tried);
        return false;
    }

    public static (int Major, int Minor) Version
    {
        get
        {
            lock (Gate)
            {
                if (_version is null)
                {
                    NativeLibraries.Require(NativeLibraries.Nvrtc);
                    Nvrtc.Check(Nvrtc.nvrtcVersion(out var major, out var minor), "nvrtcVersion");
                    _version = (major, minor);
                }
                return _version.Value;
            }
        }
    }

    /// <summary>The SM versions this NVRTC can generate code for (e.g. 50 … 90).</summary>
    public static IReadOnlyList<int> SupportedArchs
    {
        get
        {
            lock (Gate)
            {
                if (_archs is null)
                {
                    NativeLibraries.Require(NativeLibraries.Nvrtc);
                    Nvrtc.Check(Nvrtc.nvrtcGetNumSupportedArchs(out var n), "nvrtcGetNumSupportedArchs");
                    var a = new int[n];
                    fixed (int* p = a) Nvrtc.Check(Nvrtc.nvrtcGetSupportedArchs(p), "nvrtcGetSupportedArchs");
                    _archs = a;
                }
                return _archs;
            }
        }
    }

    /// <summary>The options every kernel is compiled with, for an arch like 90 (sm_90).</summary>
    public static List<string> BaseOptions(int arch, out string target, out bool cubin)
    {
        var archs = SupportedArchs;
        if (archs.Contains(arch))
        {
            target = $"sm_{arch}";
            cubin = true;
        }
        else
        {
            // A device newer than this NVRTC: PTX for the newest arch it knows, which the driver JIT-compiles.
            int best = archs.Where(a => a <= arch).DefaultIfEmpty(archs.Count > 0 ? archs[^1] : 52).Max();
            target = $"compute_{best}";
            cubin = false;
        }
        var options = new List<string> { $"--gpu-architecture={target}", "-default-device", "--std=c++17" };
        // NVRTC 11.8 with -lineinfo segfaults (SIGSEGV inside nvrtcCompileProgram) compiling some sm_90 kernels
        // (softmax_cross_entropy.cu, layernorm.cu, attention.cu); line info is only for profilers, so 11.x goes without.
        if (Version.Major >= 12) options.Add("-lineinfo");
        return options;
    }

    /// <summary>Compiles an embedded kernels-cu source (e.g. "adamw.cu") for sm_<paramref name="arch"/>.</summary>
    public static CompiledKernel Compile(string sourceName, int arch, IEnumerable<string>? extraOptions = null) =>
        CompileSource(KernelSources.Prefix + sourceName, KernelSources.Read(sourceName), KernelSources.Headers, arch, extraOptions);

    /// <summary>
    /// Compiles <paramref name="source"/>; <paramref name="name"/> is what the log's file:line locations say.
    /// Throws <see cref="NvrtcCompileException"/> with the log when NVRTC rejects the source.
    /// </summary>
    public static CompiledKernel CompileSource(string name, string source, IReadOnlyDictionary<string, string> headers, int arch,
        IEnumerable<string>? extraOptions = null)
    {
        var options = BaseOptions(arch, out var target, out var cubin);
        if (extraOptions is not null) options.AddRange(extraOptions);

        using var pins = new Utf8Strings();
        var headerNames = headers.Keys.ToArray();
        var headerPtrs = stackalloc byte*[Math.Max(1, headerNames.Length)];
        var includePtrs = stackalloc byte*[Math.Max(1, headerNames.Length)];
        for (int i = 0; i < headerNames.Length; i++)
        {
            headerPtrs[i] = pins.Add(headers[headerNames[i]]);
            includePtrs[i] = pins.Add(headerNames[i]);
        }
        var optionPtrs = stackalloc byte*[Math.Max(1, options.Count)];
        for (int i = 0; i < options.Count; i++) optionPtrs[i] = pins.Add(options[i]);

        Nvrtc.Check(Nvrtc.nvrtcCreateProgram(out var program, pins.Add(source), pins.Add(name), headerNames.Length, headerPtrs, includePtrs),
            $"nvrtcCreateProgram({name})");
        try
        {
            int status = Nvrtc.nvrtcCompileProgram(program, options.Count, optionPtrs);
            string log = ReadLog(program);
            if (status == Nvrtc.ErrorCompilation) throw new NvrtcCompileException(name, target, log);
            Nvrtc.Check(status, $"nvrtcCompileProgram({name}, {target})");
            byte[] image;
            if (cubin)
            {
                Nvrtc.Check(Nvrtc.nvrtcGetCUBINSize(program, out var size), "nvrtcGetCUBINSize");
                image = new byte[(int)size];
                fixed (byte* p = image) Nvrtc.Check(Nvrtc.nvrtcGetCUBIN(program, p), "nvrtcGetCUBIN");
            }
            else
            {
                Nvrtc.Check(Nvrtc.nvrtcGetPTXSize(program, out var size), "nvrtcGetPTXSize");
                image = new byte[(int)size]; // includes the terminating NUL cuModuleLoadData needs
                fixed (byte* p = image) Nvrtc.Check(Nvrtc.nvrtcGetPTX(program, p), "nvrtcGetPTX");
            }
            return new CompiledKernel(name, target, image, cubin, log);
        }
        finally
        {
            Nvrtc.nvrtcDestroyProgram(ref program);
        }
    }

    private static string ReadLog(nint program)
    {
        if (Nvrtc.nvrtcGetProgramLogSize(program, out var size) != Nvrtc.Success || size <= 1) return "";
        var buffer = new byte[(int)size];
        fixed (byte* p = buffer)
            if (Nvrtc.nvrtcGetProgramLog(program, p) != Nvrtc.Success) return "";
        return Encoding.UTF8.GetString(buffer).TrimEnd('\0');
    }

    /// <summary>NUL-terminated UTF-8 copies that live until disposed.</summary>
    private sealed class Utf8Strings : IDisposable
    {
        private readonly List<nint> _blocks = [];

        public byte* Add(string s)
        {
            var p = (byte*)Marshal.StringToCoTaskMemUTF8(s);
            _blocks.Add((nint)p);
            return p;
        }

        public void Dispose()
        {
            foreach (var b in _blocks) Marshal.FreeCoTaskMem(b);
        }
    }
}
