using Electra.Cuda.Interop;

namespace Electra.Cuda;

/// <summary>
/// A region of device work captured once and replayed with one launch. The region must only queue device work
/// (kernels, GEMMs, device copies): no copies to or from the host and no synchronisation. Its tensors' memory
/// is reserved for the graph until it is disposed, because each replay writes the same addresses again; so keep
/// the region's inputs and outputs alive, and write new inputs into them (e.g. with a copy) before each replay.
/// </summary>
public sealed class CudaGraph : IDisposable
{
    private readonly CudaDevice _device;
    private readonly CudaAllocator.GraphPool _pool;
    private nint _graph, _exec;

    private CudaGraph(CudaDevice device, CudaAllocator.GraphPool pool, nint graph, nint exec, CudaProfile.Counts work)
    {
        _device = device;
        _pool = pool;
        _graph = graph;
        _exec = exec;
        Work = work;
    }

    /// <summary>The device work one replay does (kernels, GEMMs, copies and their modelled time), as captured.</summary>
    public CudaProfile.Counts Work { get; }

    /// <summary>Runs <paramref name="region"/> under stream capture (it executes nothing) and instantiates the graph.</summary>
    public static CudaGraph Capture(CudaBackend backend, Action region)
    {
        var device = backend.CudaDevice;
        device.MakeCurrent();
        var pool = new CudaAllocator.GraphPool();
        device.Allocator.BeginCapture(pool);
        device.Profile.BeginCapture();
        nint graph;
        CudaProfile.Counts work;
        try
        {
            // Relaxed mode: the allocator may still call cuMemAlloc for a block the region needs the first time.
            Driver.Check(Driver.cuStreamBeginCapture_v2(device.Stream, CuStreamCaptureMode.Relaxed), "cuStreamBeginCapture_v2");
            Exception? failure = null;
            try
            {
                region();
            }
            catch (Exception e)
            {
                failure = e;
            }
            var end = Driver.cuStreamEndCapture(device.Stream, out graph);
            if (failure is not null)
            {
                if (graph != 0) Driver.cuGraphDestroy(graph);
                // Nothing ran: the blocks the region freed into the pool are free for everyone again.
                device.Allocator.EndCapture();
                device.Allocator.ReleasePool(pool);
                throw new CudaException("the captured region failed: " + failure.Message, failure);
            }
            Driver.Check(end, "cuStreamEndCapture");
        }
        finally
        {
            work = device.Profile.EndCapture();
            device.Allocator.EndCapture();
            device.RunAfterCapture();
        }
        var r = Driver.cuGraphInstantiateWithFlags(out var exec, graph, 0);
        if (r != CuResult.Success)
        {
            Driver.cuGraphDestroy(graph);
            device.Allocator.ReleasePool(pool);
            Driver.Check(r, "cuGraphInstantiateWithFlags");
        }
        return new CudaGraph(device, pool, graph, exec, work);
    }

    /// <summary>Queues one replay of the captured work on the device's stream.</summary>
    public void Replay()
    {
        ObjectDisposedException.ThrowIf(_exec == 0, this);
        _device.MakeCurrent();
        Driver.Check(Driver.cuGraphLaunch(_exec, _device.Stream), "cuGraphLaunch");
        _device.Profile.GraphLaunch(Work);
    }

    public void Dispose()
    {
        if (_exec == 0) return;
        _device.Synchronize();
        Driver.cuGraphExecDestroy(_exec);
        Driver.cuGraphDestroy(_graph);
        _exec = 0;
        _graph = 0;
        _device.Allocator.ReleasePool(_pool);
    }
}
