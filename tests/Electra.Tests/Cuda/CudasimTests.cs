using System.Runtime.InteropServices;
using Electra.Cuda;
using Electra.Cuda.Compile;
using Electra.Cuda.Interop;

namespace Electra.Tests.Cuda;

/// <summary>
/// The CUDA simulator's own tests (tests/cudasim), through Electra's bindings: every bug planted in
/// selftest/planted_bugs.cu is reported naming kernel, block and thread and what went wrong; launch limits and a
/// synchronisation inside a stream capture are refused; inline PTX without an ELECTRA_CUDASIM branch does not
/// compile; a race changes with the execution order and a correct kernel does not. Only under the simulator: on a
/// GPU a planted bug would end the context. selftest/run.sh checks the same without .NET.
/// </summary>
[Category("Cudasim")]
public partial class CudasimTests
{
    private static readonly Lazy<nint> Module = new(() =>
        Load(NvrtcCompiler.CompileSource("planted_bugs.cu", File.ReadAllText(PlantedBugsPath), KernelSources.Headers, Gpu.Backend.CudaDevice.Arch)));

    private static string PlantedBugsPath => Path.Combine(TestData.RepoRoot, "tests", "cudasim", "selftest", "planted_bugs.cu");

    private static unsafe nint Load(CompiledKernel compiled)
    {
        nint module;
        fixed (byte* image = compiled.Image) Driver.Check(Driver.cuModuleLoadData(out module, image), "cuModuleLoadData(planted_bugs.cu)");
        return module;
    }

    [LibraryImport("libc", EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int SetNativeEnvironment(string name, string value, int overwrite);

    private static (CudaDevice Device, nint Module) Simulator()
    {
        var device = Gpu.Backend.CudaDevice;
        if (!device.Name.Contains("cudasim")) Assert.Ignore($"the planted bugs run on the CUDA simulator only, not on {device.Name}");
        return (device, Module.Value);
    }

    private static CudaKernel Kernel(string name)
    {
        var (device, module) = Simulator();
        Driver.Check(Driver.cuModuleGetFunction(out var function, module, name), $"cuModuleGetFunction({name})");
        return new CudaKernel(device, "planted_bugs.cu:" + name, function);
    }

    /// <summary>A driver allocation of exactly this many floats (the allocator would round it up).</summary>
    private sealed class DeviceFloats : IDisposable
    {
        public DeviceFloats(int n) => Driver.Check(Driver.cuMemAlloc_v2(out Pointer, (nuint)(4 * n)), "cuMemAlloc");
        public readonly ulong Pointer;
        public void Dispose() => Driver.cuMemFree_v2(Pointer);
    }

    // (kernel, threads per block, dynamic shared bytes, the int argument, what the report must say): two blocks,
    // the bug in block 1, threads run in order, so the first thread to reach the bug is the one named.
    public static IEnumerable<TestCaseData> PlantedBugs()
    {
        TestCaseData Case(string kernel, int block, int shared, int arg, params string[] says) =>
            new TestCaseData(kernel, block, shared, arg, says).SetName($"Reports_{kernel}");
        yield return Case("oob_global_write", 32, 0, 64, "CUDA_ERROR_ILLEGAL_ADDRESS", "block (1,0,0) thread (0,0,0)",
            "0 bytes past the end of the allocation", "planted_bugs.cu:9");
        yield return Case("oob_shared_static", 32, 0, 1, "CUDA_ERROR_LAUNCH_FAILED", "block (1,0,0) thread (31,0,0)",
            "index 32 out of bounds for type 'float [32]'", "planted_bugs.cu:15");
        yield return Case("oob_shared_dynamic", 32, 128, 32, "CUDA_ERROR_ILLEGAL_ADDRESS", "block (1,0,0) thread (0,0,0)",
            "0 bytes past the end of the 128 bytes of dynamic shared memory", "planted_bugs.cu:23");
        yield return Case("misaligned_load", 32, 0, 0, "CUDA_ERROR_LAUNCH_FAILED", "block (1,0,0) thread (0,0,0)",
            "misaligned address", "requires 16-byte alignment", "planted_bugs.cu:30");
        yield return Case("barrier_after_exit", 64, 0, 0, "CUDA_ERROR_LAUNCH_FAILED", "block (1,0,0) thread (32,0,0)",
            "barrier divergence: exited while 32 threads wait at __syncthreads at planted_bugs.cu:39");
        yield return Case("barrier_two_sites", 64, 0, 0, "CUDA_ERROR_LAUNCH_FAILED", "block (1,0,0) thread (32,0,0)",
            "barrier divergence: __syncthreads at planted_bugs.cu:48 while 32 threads wait at __syncthreads at planted_bugs.cu:47");
        yield return Case("shuffle_exited_lane", 32, 0, 0, "CUDA_ERROR_LAUNCH_FAILED", "block (1,0,0) thread (5,0,0)",
            "exited while lanes 0x0000001f of its warp wait for it in a shuffle at planted_bugs.cu:55");
        yield return Case("mma_exited_lane", 32, 0, 0, "CUDA_ERROR_LAUNCH_FAILED", "block (1,0,0) thread (3,0,0)",
            "exited while lanes 0x00000007 of its warp wait for it in mma.sync");
        yield return Case("deadlock", 32, 0, 0, "CUDA_ERROR_LAUNCH_FAILED", "block (1,0,0) thread (0,0,0)",
            "deadlock: waits in a shuffle at planted_bugs.cu:81", "16 threads wait at __syncthreads");
    }

    [TestCaseSource(nameof(PlantedBugs))]
    public void ReportsThePlantedBug(string kernel, int block, int shared, int arg, string[] says)
    {
        var k = Kernel(kernel);
        var device = Simulator().Device;
        using var x = new DeviceFloats(64);
        using var y = new DeviceFloats(128);
        KernelArg[] args = kernel switch
        {
            "oob_global_write" => [x.Pointer, arg],
            "misaligned_load" => [x.Pointer, y.Pointer],
            "oob_shared_static" or "oob_shared_dynamic" => [y.Pointer, arg],
            _ => [y.Pointer],
        };
        using (Order(0))
        {
            k.Launch((2, 1, 1), ((uint)block, 1, 1), (uint)shared, args);
            var e = Assert.Throws<CudaException>(device.Synchronize)!;
            Assert.That(e.Message, Does.Contain("cuStreamSynchronize").And.Contain(kernel));
            foreach (var part in says) Assert.That(e.Message, Does.Contain(part));
        }
        device.Synchronize(); // reported once: the simulated context goes on (CUDASIM_STICKY=1 would keep it broken)
    }

    [TestCase(128, 0, "a block of 128 threads exceeds its __launch_bounds__(64)", TestName = "Refuses_a_block_over_launch_bounds")]
    [TestCase(2048, 0, "invalid configuration grid (2,1,1) block (2048,1,1)", TestName = "Refuses_a_block_over_1024_threads")]
    [TestCase(32, 65536, "65536 bytes of dynamic shared memory exceed the function's limit of 49152", TestName = "Refuses_dynamic_shared_over_the_limit")]
    public void RefusesLaunchesOverTheLimits(int block, int shared, string says)
    {
        var k = Kernel("bounded");
        using var y = new DeviceFloats(128);
        var e = Assert.Throws<CudaException>(() => k.Launch((2, 1, 1), ((uint)block, 1, 1), (uint)shared, y.Pointer))!;
        Assert.That(e.Message, Does.Contain("cuLaunchKernel(planted_bugs.cu:bounded").And.Contain(says));
    }

    [Test]
    public unsafe void RefusesASynchronousCopyInsideACapture()
    {
        var device = Simulator().Device;
        using var y = new DeviceFloats(128);
        var host = new float[4];
        Driver.Check(Driver.cuStreamBeginCapture_v2(device.Stream, CuStreamCaptureMode.Relaxed), "cuStreamBeginCapture_v2");
        CuResult copy, end;
        nint graph;
        fixed (float* h = host) copy = Driver.cuMemcpyDtoH_v2(h, y.Pointer, 16);
        string why = Driver.Describe(copy).Text;
        end = Driver.cuStreamEndCapture(device.Stream, out graph);
        Assert.That((int)copy, Is.EqualTo(900), "CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED");
        Assert.That(why, Does.Contain("cuMemcpyDtoH waits for the device while stream").And.Contain("capturing: the capture is invalidated"));
        Assert.That((int)end, Is.EqualTo(901), "CUDA_ERROR_STREAM_CAPTURE_INVALIDATED");
        Assert.That(graph, Is.EqualTo(nint.Zero));
    }

    [TestCase("extern \"C\" __global__ void uses_ptx(float* y) {\n  float v;\n  asm(\"mov.f32 %0, 1.0;\" : \"=f\"(v));\n  y[0] = v;\n}\n",
        "planted_bugs.cu(3): error: inline PTX \"mov.f32 %0, 1.0;\" in uses_ptx has no #if ELECTRA_CUDASIM branch", TestName = "Refuses_inline_PTX")]
    [TestCase("extern \"C\" __global__ void dyn(float* y) {\n  extern __shared__ float s[];\n  y[0] = s[0];\n}\n",
        "planted_bugs.cu(2): error: extern __shared__ in dyn: declare dynamic shared memory with DYNAMIC_SHARED", TestName = "Refuses_extern_shared")]
    public void RefusesWhatItCannotRun(string source, string says)
    {
        var device = Simulator().Device;
        var e = Assert.Throws<NvrtcCompileException>(() => NvrtcCompiler.CompileSource("planted_bugs.cu", source, KernelSources.Headers, device.Arch))!;
        Assert.That(e.Log, Does.Contain(says));
    }

    [Test]
    public void ARaceDependsOnTheOrderACorrectKernelDoesNot()
    {
        var device = Simulator().Device;
        using var x = new DeviceFloats(128);
        using var y = new DeviceFloats(128);
        using var count = new DeviceFloats(1);
        var input = TestData.RandomFloats(128, 17);
        unsafe
        {
            fixed (float* p = input) Driver.Check(Driver.cuMemcpyHtoD_v2(x.Pointer, p, 512), "cuMemcpyHtoD");
        }
        var racy = new List<float[]>();
        var correct = new List<float[]>();
        foreach (int order in new[] { 0, 1, 2 })
        {
            using var _ = Order(order);
            Kernel("racy").Launch((2, 1, 1), (64, 1, 1), 0, y.Pointer);
            racy.Add(Read(device, y.Pointer, 128));
            Driver.Check(Driver.cuMemsetD32_v2(count.Pointer, 0, 1), "cuMemsetD32");
            Kernel("correct").Launch((2, 1, 1), (64, 1, 1), 64 * 4, x.Pointer, y.Pointer, count.Pointer);
            correct.Add(Read(device, y.Pointer, 128));
            Assert.That(BitConverter.SingleToInt32Bits(Read(device, count.Pointer, 1)[0]), Is.EqualTo(2), $"order {order}: blocks counted");
        }
        Assert.That(racy[1], Is.Not.EqualTo(racy[0]), "the race shows as a different result in reverse order");
        Assert.That(correct[1], Is.EqualTo(correct[0]), "reverse order, same bits");
        Assert.That(correct[2], Is.EqualTo(correct[0]), "shuffled order, same bits");
        Assert.That(correct[0], Has.None.NaN, "every element written");
    }

    private static unsafe float[] Read(CudaDevice device, ulong pointer, int n)
    {
        device.Synchronize();
        var r = new float[n];
        fixed (float* p = r) Driver.Check(Driver.cuMemcpyDtoH_v2(p, pointer, (nuint)(4 * n)), "cuMemcpyDtoH");
        return r;
    }

    /// <summary>
    /// Sets CUDASIM_ORDER and CUDASIM_SEED until disposed: the simulator reads them at each launch from the C
    /// environment, which Environment.SetEnvironmentVariable does not change.
    /// </summary>
    internal static IDisposable Order(int order)
    {
        string previousOrder = Environment.GetEnvironmentVariable("CUDASIM_ORDER") ?? "0";
        string previousSeed = Environment.GetEnvironmentVariable("CUDASIM_SEED") ?? "0";
        SetNativeEnvironment("CUDASIM_ORDER", order.ToString(), 1);
        SetNativeEnvironment("CUDASIM_SEED", "7", 1);
        return new Restore(() =>
        {
            SetNativeEnvironment("CUDASIM_ORDER", previousOrder, 1);
            SetNativeEnvironment("CUDASIM_SEED", previousSeed, 1);
        });
    }

    private sealed class Restore(Action undo) : IDisposable
    {
        public void Dispose() => undo();
    }
}
