using Electra.Cuda;
using static Electra.Tests.Cuda.Gpu;

namespace Electra.Tests.Cuda;

using Tensor = Electra.Tensor;

/// <summary>Philox parity, the allocator and CUDA graphs on a real device.</summary>
[Category("Gpu")]
public class CudaRuntimeTests
{
    [TestCase(0x0123_4567_89AB_CDEFUL, 0xFEDC_BA98_7654_3210UL, 3UL, 4099)]
    [TestCase(42UL, 0UL, 0UL, 1)]
    [TestCase(7UL, 1UL << 40, (1UL << 33) + 1, 257)]
    public void PhiloxIsBitIdenticalToCSharp(ulong seed, ulong offset, ulong start, int n)
    {
        var b = Backend;
        using var bits = Tensor.Empty([n], DType.I32, Dev);
        using var uniform = Poisoned(n);
        using var open = Poisoned(n);
        using var gumbel = Poisoned(n);
        b.CudaDevice.Kernel("random.cu", "philox_bits_kernel").Launch1D(n, 256, bits, seed, offset, start, (long)n);
        b.CudaDevice.Kernel("random.cu", "philox_draws_kernel").Launch1D(n, 256, uniform, open, gumbel, seed, offset, start, (long)n);
        var gotBits = bits.ToArray<uint>();
        var gotU = uniform.ToArray<uint>();
        var gotO = open.ToArray<uint>();
        var gotG = gumbel.ToArray<uint>();
        for (int i = 0; i < n; i++)
        {
            uint want = Philox.Bits(seed, offset, start + (ulong)i);
            Assert.That(gotBits[i], Is.EqualTo(want), $"bits of element {start + (ulong)i}");
            Assert.That(gotU[i], Is.EqualTo(BitConverter.SingleToUInt32Bits(Philox.Uniform(want))), $"uniform {i}");
            Assert.That(gotO[i], Is.EqualTo(BitConverter.SingleToUInt32Bits(Philox.UniformOpen(want))), $"open uniform {i}");
            Assert.That(gotG[i], Is.EqualTo(BitConverter.SingleToUInt32Bits(Philox.Gumbel(want))), $"gumbel {i}");
        }
    }

    [Test]
    public void PortableLogIsBitIdenticalOverTheUnitIntervalAndBeyond()
    {
        var b = Backend;
        const int n = 1 << 16;
        var x = new float[n];
        var rng = new Random(9);
        for (int i = 0; i < n; i++) x[i] = i < 1024 ? (i + 0.5f) / 1024f : MathF.Exp((float)(rng.NextDouble() * 80 - 40));
        using var gx = Floats(x, n);
        using var gy = Poisoned(n);
        b.CudaDevice.Kernel("random.cu", "portable_log_kernel").Launch1D(n, 256, gx, gy, (long)n);
        var got = gy.ToArray<uint>();
        for (int i = 0; i < n; i++)
            Assert.That(got[i], Is.EqualTo(BitConverter.SingleToUInt32Bits(Philox.PortableLog(x[i]))), $"log({x[i]:R})");
    }

    [Test]
    public void AllocatorReusesFreedBlocks()
    {
        var alloc = Backend.Allocator;
        var t1 = Tensor.Empty([1000, 3], DType.F32, Dev);
        nint p1 = t1.Pointer;
        long inUse = alloc.InUse;
        t1.Dispose();
        Assert.That(alloc.InUse, Is.EqualTo(inUse - CudaAllocator.RoundSize(12000)));
        long deviceAllocs = alloc.DeviceAllocations;
        using var t2 = Tensor.Empty([2999], DType.I32, Dev); // 11996 bytes: the same size class
        Assert.That(t2.Pointer, Is.EqualTo(p1), "the freed block comes back");
        Assert.That(alloc.DeviceAllocations, Is.EqualTo(deviceAllocs), "no new cuMemAlloc");
        Assert.That(alloc.PeakInUse, Is.GreaterThanOrEqualTo(alloc.InUse));
    }

    [Test]
    public void SizeClassesBoundTheWaste()
    {
        Assert.That(CudaAllocator.RoundSize(1), Is.EqualTo(512));
        Assert.That(CudaAllocator.RoundSize(513), Is.EqualTo(1024));
        Assert.That(CudaAllocator.RoundSize((1 << 20) + 1), Is.EqualTo((1 << 20) + (1 << 17)));
        Assert.That(CudaAllocator.RoundSize(3_000_000_000L), Is.LessThanOrEqualTo((long)(3_000_000_000L * 1.125)));
    }

    [Test]
    public void GraphReplayEqualsEager()
    {
        var b = Backend;
        const int m = 64, k = 96, n = 80;
        var a = TestData.RandomFloats(m * k, 1);
        var w = TestData.RandomFloats(k * n, 2);
        var bias = TestData.RandomFloats(n, 3);
        using var ga = Floats(a, m, k);
        using var gw = Floats(w, k, n);
        using var gb = Floats(bias, n);
        using var h = Poisoned(m, n);
        using var y = Poisoned(m, n);
        using var total = Poisoned(1);
        void Region()
        {
            b.Gemm(ga, false, gw, false, h);
            b.BiasGeluForward(h, gb, y);
            b.Dropout(y, 0.1f, 5, 6, y);
            b.Sum(y, total, 1f);
        }

        Region();
        var eagerY = y.ToFloatArray();
        var eagerTotal = total.Item();

        using var graph = CudaGraph.Capture(b, Region);
        b.Fill(y, float.NaN);
        b.Fill(total, float.NaN);
        graph.Replay();
        Assert.That(y.ToFloatArray(), Is.EqualTo(eagerY), "replay writes what the eager run wrote");
        Assert.That(total.Item(), Is.EqualTo(eagerTotal));

        // New inputs written into the captured tensors take effect on the next replay.
        var a2 = TestData.RandomFloats(m * k, 4);
        ga.Backend.CopyFromHost(System.Runtime.InteropServices.MemoryMarshal.AsBytes(a2.AsSpan()), ga);
        graph.Replay();
        var replayed = y.ToFloatArray();
        ga.Backend.CopyFromHost(System.Runtime.InteropServices.MemoryMarshal.AsBytes(a2.AsSpan()), ga);
        Region();
        Assert.That(replayed, Is.EqualTo(y.ToFloatArray()));
        Assert.That(replayed, Is.Not.EqualTo(eagerY));
    }
}
