using Electra.Cuda;
using Electra.Model;
using Electra.Train.Benchmarking;
using static Electra.Tests.Cuda.Gpu;

namespace Electra.Tests.Cuda;

using Tensor = Electra.Tensor;

/// <summary>
/// The step profile counts what the host asks of the device where it asks it: these tests make known calls and
/// check each counter moved by exactly what the calls imply, and that a warm training step neither waits for the
/// device nor allocates from the driver.
/// </summary>
[Category("Gpu")]
public class CudaProfileTests
{
    private static float[] RandomFloats(int n, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
    }

    [Test]
    public void GemmCountsOneCublasCallWithItsFlopsAndBytes()
    {
        var b = Backend;
        using var x = Floats(RandomFloats(37 * 19, 1), 37, 19);
        using var w = Floats(RandomFloats(19 * 23, 2), 19, 23);
        using var y = Tensor.Empty([37, 23], DType.F32, Dev);
        var before = b.Profile.Snapshot();
        b.Gemm(x, false, w, false, y);
        var d = b.Profile.Snapshot().Minus(before);
        Assert.That(d.CublasCalls, Is.EqualTo(1));
        Assert.That(d.KernelLaunches, Is.EqualTo(0));
        Assert.That(d.ModelledFlops, Is.EqualTo(2.0 * 37 * 23 * 19));
        Assert.That(d.ModelledBytes, Is.EqualTo(4L * (37 * 19 + 19 * 23 + 37 * 23)), "β = 0: C is written, not read");
        Assert.That(d.HostSyncs, Is.EqualTo(0));
    }

    [Test]
    public void KernelLaunchCountsByNameAndItsTensorBytes()
    {
        var b = Backend;
        using var a1 = Floats(RandomFloats(1001, 3), 1001);
        using var a2 = Floats(RandomFloats(1001, 4), 1001);
        using var sum = Tensor.Empty([1001], DType.F32, Dev);
        var before = b.Profile.Snapshot();
        b.Add(a1, a2, sum, 1f, 2f);
        b.Add(sum, a2, sum, 1f, 1f);
        var d = b.Profile.Snapshot().Minus(before);
        Assert.That(d.KernelLaunches, Is.EqualTo(2));
        Assert.That(d.LaunchesByKernel, Is.EquivalentTo(new Dictionary<string, long> { ["elementwise.cu:add_scaled"] = 2 }));
        Assert.That(d.ModelledBytes, Is.EqualTo(2 * 3 * 4004L), "each launch reads two tensors and writes one");
        Assert.That(d.ModelledSeconds, Is.EqualTo(2 * DeviceModel.Seconds(3 * 4004L, 0, FlopRate.None)).Within(1e-15));
    }

    [Test]
    public void SmallUploadsQueueWithoutWaitingAndDownloadsWait()
    {
        var b = Backend;
        var data = RandomFloats(5000, 5);
        var before = b.Profile.Snapshot();
        using var t = Floats(data, 5000);
        var afterUpload = b.Profile.Snapshot().Minus(before);
        Assert.That(afterUpload.Uploads, Is.EqualTo(1));
        Assert.That(afterUpload.BytesUploaded, Is.EqualTo(20000));
        Assert.That(afterUpload.HostSyncs, Is.EqualTo(0), "an upload of 20 kB goes through the ring and does not wait");
        var back = t.ToFloatArray();
        var d = b.Profile.Snapshot().Minus(before);
        Assert.That(back, Is.EqualTo(data), "the queued upload arrived before the download read it");
        Assert.That(d.Downloads, Is.EqualTo(2), "the tensor, then the kernels' error slot");
        Assert.That(d.BytesDownloaded, Is.EqualTo(20000 + 16));
        Assert.That(d.HostSyncs, Is.EqualTo(2), "the download waits, and so does the synchronous error-slot read");
    }

    [Test]
    public void ManyUploadsWrapTheRingWithoutCorruptingEarlierOnes()
    {
        // 3 × 1.5 MiB per round: every few uploads the writer moves to the other half, so slices are reused while
        // earlier copies may still be queued. Each tensor must hold exactly what was uploaded into it.
        const int n = 3 << 17;
        var tensors = new List<Tensor>();
        try
        {
            for (int i = 0; i < 8; i++)
            {
                var data = Enumerable.Repeat((float)i, n).ToArray();
                tensors.Add(Floats(data, n));
            }
            for (int i = 0; i < 8; i++)
                Assert.That(tensors[i].ToFloatArray().Distinct(), Is.EqualTo(new[] { (float)i }), $"upload {i}");
        }
        finally
        {
            foreach (var t in tensors) t.Dispose();
        }
    }

    [Test]
    public void GraphWorkIsCountedAtEachReplayNotAtCapture()
    {
        var b = Backend;
        using var x = Floats(RandomFloats(4096, 6), 4096);
        using var y = Tensor.Empty([4096], DType.F32, Dev);
        var before = b.Profile.Snapshot();
        using var graph = CudaGraph.Capture(b, () => { b.Scale(x, 2f, y); b.Add(y, x, y, 1f, 1f); });
        var captured = b.Profile.Snapshot().Minus(before);
        Assert.That(captured.KernelLaunches, Is.EqualTo(0), "capture executes nothing");
        Assert.That(graph.Work.KernelLaunches, Is.EqualTo(2));
        graph.Replay();
        graph.Replay();
        var d = b.Profile.Snapshot().Minus(before);
        Assert.That(d.GraphLaunches, Is.EqualTo(2));
        Assert.That(d.KernelLaunches, Is.EqualTo(4));
        Assert.That(d.LaunchesByKernel["elementwise.cu:scale"], Is.EqualTo(2));
        Assert.That(d.HostSyncs, Is.EqualTo(0));
    }

    [Test]
    public void UploadInsideACaptureIsRefusedByName()
    {
        var b = Backend;
        using var x = Tensor.Empty([16], DType.F32, Dev);
        var e = Assert.Throws<CudaException>(() => CudaGraph.Capture(b, () => b.CopyFromHost(new byte[64], x)));
        Assert.That(e!.Message, Does.Contain("CopyFromHost").And.Contain("graph capture"));
    }

    [Test]
    public void AWarmTrainingStepNeitherWaitsNorAllocates()
    {
        var result = TrainBenchmark.Run(ElectraConfig.Preset("tiny"), 2, 32, 2, Dev, breakdown: false);
        var p = result["step_profile"]!.AsObject();
        Assert.That(p["logging_step"]!.GetValue<bool>(), Is.False);
        Assert.That(p["host_syncs"]!.GetValue<long>(), Is.EqualTo(0));
        Assert.That(p["driver_allocations"]!.GetValue<long>(), Is.EqualTo(0));
        Assert.That(p["driver_frees"]!.GetValue<long>(), Is.EqualTo(0));
        long launches = p["kernel_launches"]!.GetValue<long>();
        long byKernel = p["launches_by_kernel"]!.AsObject().Sum(kv => kv.Value!.GetValue<long>());
        Assert.That(byKernel, Is.EqualTo(launches), "every launch is attributed to its kernel");
        Assert.That(p["cublas_calls"]!.GetValue<long>(), Is.GreaterThan(0));
        Assert.That(p["modelled_h100_ms"]!.GetValue<double>(), Is.GreaterThan(launches * DeviceModel.LaunchSeconds * 1e3));
    }
}
