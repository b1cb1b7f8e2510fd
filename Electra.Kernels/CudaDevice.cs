using System.Runtime.InteropServices;
using System.Text;
using Electra.Cuda.Compile;
using Electra.Cuda.Interop;

namespace Electra.Cuda;

/// <summary>
/// One GPU as the backend uses it: its primary context (shared with cuBLAS), the one compute stream every
/// kernel, copy and GEMM is queued on, the kernel modules compiled for its exact arch, and the caching allocator.
/// </summary>
public sealed unsafe class CudaDevice : IDisposable
{
    private readonly Lock _moduleGate = new();
    private readonly Dictionary<string, nint> _modules = new();
    private readonly Dictionary<(string, string), CudaKernel> _kernels = new();
    private readonly KernelCache _cache;
    private bool _disposed;

    [ThreadStatic] private static nint _currentContext;

    private CudaDevice(int ordinal, nint context, KernelCache cache)
    {
        Ordinal = ordinal;
        Context = context;
        _cache = cache;
        Driver.Check(Driver.cuDeviceGet(out var dev, ordinal), "cuDeviceGet");
        Handle = dev;
        Name = ReadName(dev);
        Arch = Attribute(CuDeviceAttribute.ComputeCapabilityMajor) * 10 + Attribute(CuDeviceAttribute.ComputeCapabilityMinor);
        MultiprocessorCount = Attribute(CuDeviceAttribute.MultiprocessorCount);
        Driver.Check(Driver.cuDeviceTotalMem_v2(out var total, dev), "cuDeviceTotalMem_v2");
        TotalMemory = (long)total;
        Driver.Check(Driver.cuStreamCreate(out var stream, 0), "cuStreamCreate");
        Stream = stream;
        Allocator = new CudaAllocator(this);
    }

    public int Ordinal { get; }
    public int Handle { get; }
    public nint Context { get; }
    public nint Stream { get; }
    public string Name { get; }

    /// <summary>Compute capability as one number: 90 for sm_90.</summary>
    public int Arch { get; }

    public int MultiprocessorCount { get; }
    public long TotalMemory { get; }
    public CudaAllocator Allocator { get; }

    /// <summary>What the host has asked of this device so far: launches, synchronisations, allocations, bytes.</summary>
    public CudaProfile Profile { get; } = new();

    private readonly List<Action> _afterCapture = [];

    /// <summary>
    /// Queues <paramref name="work"/> (an upload a captured region needs, such as a chunk table) to run on the stream
    /// as soon as the capture ends, outside the graph: before its first replay, and not again at every replay.
    /// </summary>
    internal void AfterCapture(Action work) => _afterCapture.Add(work);

    /// <summary>Runs what <see cref="AfterCapture"/> queued, whether or not the capture succeeded (it is plain, valid work).</summary>
    internal void RunAfterCapture()
    {
        var work = _afterCapture.ToArray();
        _afterCapture.Clear();
        foreach (var w in work) w();
    }

    /// <summary>Initialises the driver and opens device <paramref name="ordinal"/>; CudaUnavailableException says why not.</summary>
    public static CudaDevice Open(int ordinal = 0, KernelCache? cache = null)
    {
        var (version, count) = Probe();
        if (ordinal < 0 || ordinal >= count)
            throw new CudaUnavailableException($"CUDA device {ordinal} does not exist: the driver ({FormatVersion(version)}) sees {count} device(s)");
        Driver.Check(Driver.cuDeviceGet(out var dev, ordinal), "cuDeviceGet");
        Driver.Check(Driver.cuDevicePrimaryCtxRetain(out var ctx, dev), "cuDevicePrimaryCtxRetain");
        Driver.Check(Driver.cuCtxSetCurrent(ctx), "cuCtxSetCurrent");
        _currentContext = ctx;
        return new CudaDevice(ordinal, ctx, cache ?? KernelCache.Default);
    }

    /// <summary>Loads libcuda and counts devices: (driver version, device count), or CudaUnavailableException.</summary>
    public static (int DriverVersion, int DeviceCount) Probe()
    {
        NativeLibraries.Require(NativeLibraries.Cuda);
        var init = Driver.cuInit(0);
        if (init != CuResult.Success)
        {
            var (name, text) = Driver.Describe(init);
            throw new CudaUnavailableException(init switch
            {
                CuResult.ErrorNoDevice => "the CUDA driver found no GPU",
                CuResult.ErrorInsufficientDriver => "the installed NVIDIA driver is too old for this CUDA",
                CuResult.ErrorStubLibrary => "libcuda.so.1 is the toolkit's stub, not a real driver",
                _ => $"cuInit failed: {name} ({text})",
            });
        }
        Driver.Check(Driver.cuDriverGetVersion(out var version), "cuDriverGetVersion");
        Driver.Check(Driver.cuDeviceGetCount(out var count), "cuDeviceGetCount");
        if (count == 0) throw new CudaUnavailableException($"the CUDA driver ({FormatVersion(version)}) sees no device");
        return (version, count);
    }

    public static string FormatVersion(int v) => $"{v / 1000}.{v % 1000 / 10}";

    /// <summary>Makes this device's context current on the calling thread (cheap after the first time).</summary>
    public void MakeCurrent()
    {
        if (_currentContext == Context) return;
        Driver.Check(Driver.cuCtxSetCurrent(Context), "cuCtxSetCurrent");
        _currentContext = Context;
    }

    public int Attribute(CuDeviceAttribute attribute)
    {
        Driver.Check(Driver.cuDeviceGetAttribute(out var v, attribute, Handle), $"cuDeviceGetAttribute({attribute})");
        return v;
    }

    public (long Free, long Total) MemoryInfo()
    {
        MakeCurrent();
        Driver.Check(Driver.cuMemGetInfo_v2(out var free, out var total), "cuMemGetInfo_v2");
        return ((long)free, (long)total);
    }

    public void Synchronize()
    {
        MakeCurrent();
        Profile.HostSync();
        Driver.Check(Driver.cuStreamSynchronize(Stream), "cuStreamSynchronize");
    }

    /// <summary>A kernel of an embedded source, compiling (or loading from the disk cache) its module on first use.</summary>
    public CudaKernel Kernel(string sourceName, string kernelName)
    {
        lock (_moduleGate)
        {
            if (_kernels.TryGetValue((sourceName, kernelName), out var k)) return k;
            MakeCurrent();
            if (!_modules.TryGetValue(sourceName, out var module))
            {
                var compiled = _cache.GetOrCompile(sourceName, Arch);
                fixed (byte* image = compiled.Image)
                    Driver.Check(Driver.cuModuleLoadData(out module, image), $"cuModuleLoadData({sourceName}, {compiled.Target})");
                _modules[sourceName] = module;
            }
            Driver.Check(Driver.cuModuleGetFunction(out var function, module, kernelName), $"cuModuleGetFunction({sourceName}: {kernelName})");
            k = new CudaKernel(this, $"{sourceName}:{kernelName}", function);
            _kernels[(sourceName, kernelName)] = k;
            return k;
        }
    }

    private static string ReadName(int dev)
    {
        var buffer = stackalloc byte[256];
        Driver.Check(Driver.cuDeviceGetName(buffer, 256, dev), "cuDeviceGetName");
        return Marshal.PtrToStringUTF8((nint)buffer) ?? "unknown";
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        MakeCurrent();
        Driver.cuStreamSynchronize(Stream);
        Allocator.Dispose();
        foreach (var m in _modules.Values) Driver.cuModuleUnload(m);
        Driver.cuStreamDestroy_v2(Stream);
        Driver.cuDevicePrimaryCtxRelease_v2(Handle);
    }

    public override string ToString() => $"cuda:{Ordinal} {Name} (sm_{Arch}, {MultiprocessorCount} SMs, {TotalMemory / (1 << 20)} MiB)";
}

/// <summary>
/// One argument of a kernel launch: its value in 8 bytes (the driver reads as many as the parameter's size) and, for
/// a tensor, the tensor's size, which is what the launch moves through memory unless the site declares otherwise.
/// </summary>
public readonly struct KernelArg
{
    public readonly ulong Bits;
    public readonly long Bytes;

    private KernelArg(ulong bits, long bytes = 0)
    {
        Bits = bits;
        Bytes = bytes;
    }

    public static implicit operator KernelArg(int v) => new((uint)v);
    public static implicit operator KernelArg(uint v) => new(v);
    public static implicit operator KernelArg(long v) => new((ulong)v);
    public static implicit operator KernelArg(ulong v) => new(v);
    public static implicit operator KernelArg(float v) => new(BitConverter.SingleToUInt32Bits(v));
    public static implicit operator KernelArg(nint v) => new((ulong)v);
    public static implicit operator KernelArg(Tensor? t) => t is null ? new(0UL) : new((ulong)t.Pointer, t.Bytes);
}

/// <summary>A loaded kernel function; launches go on the device's stream and are checked.</summary>
public sealed unsafe class CudaKernel(CudaDevice device, string name, nint function)
{
    public string Name { get; } = name;
    public nint Function { get; } = function;

    public int Attribute(CuFunctionAttribute attribute)
    {
        Driver.Check(Driver.cuFuncGetAttribute(out var v, attribute, Function), $"cuFuncGetAttribute({Name}, {attribute})");
        return v;
    }

    /// <summary>Raises the dynamic shared-memory limit (needed above 48 KiB).</summary>
    public void SetMaxDynamicSharedMemory(int bytes) =>
        Driver.Check(Driver.cuFuncSetAttribute(Function, CuFunctionAttribute.MaxDynamicSharedSizeBytes, bytes), $"cuFuncSetAttribute({Name}, MaxDynamicSharedSizeBytes={bytes})");

    /// <summary>A launch that moves its tensor arguments once and does no arithmetic worth modelling.</summary>
    public void Launch((uint X, uint Y, uint Z) grid, (uint X, uint Y, uint Z) block, uint sharedBytes, params ReadOnlySpan<KernelArg> args) =>
        Launch(default, grid, block, sharedBytes, args);

    /// <summary>A launch whose FLOPs (or bytes, when they differ from its tensor arguments' sizes) the site declares.</summary>
    public void Launch(LaunchCost cost, (uint X, uint Y, uint Z) grid, (uint X, uint Y, uint Z) block, uint sharedBytes, params ReadOnlySpan<KernelArg> args)
    {
        if (grid.X == 0 || grid.Y == 0 || grid.Z == 0) return; // nothing to do: an empty tensor
        device.MakeCurrent();
        var values = stackalloc ulong[Math.Max(1, args.Length)];
        var pointers = stackalloc void*[Math.Max(1, args.Length)];
        long bytes = 0;
        for (int i = 0; i < args.Length; i++)
        {
            values[i] = args[i].Bits;
            pointers[i] = values + i;
            bytes += args[i].Bytes;
        }
        var result = Driver.cuLaunchKernel(Function, grid.X, grid.Y, grid.Z, block.X, block.Y, block.Z, sharedBytes, device.Stream, pointers, null);
        if (result != CuResult.Success)
        {
            var (errName, text) = Driver.Describe(result);
            throw new CudaException($"cuLaunchKernel({Name}, grid ({grid.X}, {grid.Y}, {grid.Z}), block ({block.X}, {block.Y}, {block.Z}), {sharedBytes} B shared)",
                errName, text, (int)result);
        }
        device.Profile.Kernel(Name, bytes, cost);
    }

    /// <summary>1-D launch of <paramref name="threads"/> threads in blocks of <paramref name="block"/>, capped for grid-stride loops.</summary>
    public void Launch1D(long threads, int block, params ReadOnlySpan<KernelArg> args)
    {
        if (threads <= 0) return;
        long blocks = Math.Min((threads + block - 1) / block, 65535L * 32);
        Launch(((uint)blocks, 1, 1), ((uint)block, 1, 1), 0, args);
    }

    public override string ToString() => Name;
}
