using Electra.Cuda.Compile;
using Electra.Cuda.Interop;

namespace Electra.Cuda;

/// <summary>What CUDA this machine offers, gathered without throwing: for `electra info` and benchmark reports.</summary>
public static class CudaInfo
{
    public static IReadOnlyList<(string Key, string Value)> Gather()
    {
        var lines = new List<(string, string)>();
        try
        {
            var (driver, count) = CudaDevice.Probe();
            lines.Add(("driver", $"CUDA {CudaDevice.FormatVersion(driver)} ({NativeLibraries.LoadedPath(NativeLibraries.Cuda) ?? "libcuda.so.1"})"));
            for (int i = 0; i < count; i++)
            {
                Driver.Check(Driver.cuDeviceGet(out var dev, i), "cuDeviceGet");
                lines.Add(($"device {i}", DescribeDevice(dev)));
            }
        }
        catch (Exception e) when (e is CudaUnavailableException or CudaException or DllNotFoundException or EntryPointNotFoundException)
        {
            lines.Add(("device", "none: " + e.Message.Replace("\n", "\n    ")));
        }

        if (NvrtcCompiler.IsAvailable(out var reason))
        {
            var (major, minor) = NvrtcCompiler.Version;
            var archs = NvrtcCompiler.SupportedArchs;
            lines.Add(("nvrtc", $"{major}.{minor} ({NativeLibraries.LoadedPath(NativeLibraries.Nvrtc) ?? "?"}), sm_{archs[0]}…sm_{archs[^1]}"));
        }
        else lines.Add(("nvrtc", "none: " + reason.Replace("\n", "\n    ")));

        foreach (var (key, lib) in new[] { ("cublas", NativeLibraries.Cublas), ("cublasLt", NativeLibraries.CublasLt) })
        {
            lines.Add(NativeLibraries.TryRequire(lib, out _, out var tried)
                ? (key, NativeLibraries.LoadedPath(lib) ?? "loaded")
                : (key, $"none ({tried.Count} paths tried; set {NativeLibraries.Describe(lib).EnvVar} to point at it)"));
        }

        var cache = KernelCache.Default;
        var entries = cache.Entries();
        lines.Add(("kernel cache", $"{cache.Directory} ({entries.Count} compiled kernel file(s), {entries.Sum(e => e.Bytes) / 1024} KiB)"));
        foreach (var e in entries.Take(40)) lines.Add(("  cached", $"{e.Name} ({e.Bytes / 1024} KiB, {e.Written:yyyy-MM-dd HH:mm} UTC)"));
        lines.Add(("kernel sources", string.Join(", ", KernelSources.Names)));
        return lines;
    }

    private static unsafe string DescribeDevice(int dev)
    {
        var name = stackalloc byte[256];
        Driver.Check(Driver.cuDeviceGetName(name, 256, dev), "cuDeviceGetName");
        int Attr(CuDeviceAttribute a) { Driver.Check(Driver.cuDeviceGetAttribute(out var v, a, dev), "cuDeviceGetAttribute"); return v; }
        Driver.Check(Driver.cuDeviceTotalMem_v2(out var total, dev), "cuDeviceTotalMem_v2");
        return $"{System.Runtime.InteropServices.Marshal.PtrToStringUTF8((nint)name)}, sm_{Attr(CuDeviceAttribute.ComputeCapabilityMajor)}{Attr(CuDeviceAttribute.ComputeCapabilityMinor)}, " +
               $"{Attr(CuDeviceAttribute.MultiprocessorCount)} SMs, {(long)total / (1L << 20)} MiB, L2 {Attr(CuDeviceAttribute.L2CacheSize) / 1024} KiB";
    }
}
