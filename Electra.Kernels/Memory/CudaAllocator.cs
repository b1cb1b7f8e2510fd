using Electra.Cuda.Interop;

namespace Electra.Cuda;

/// <summary>
/// A caching device allocator. cuMemAlloc/cuMemFree synchronise the device and cost microseconds to
/// milliseconds, so freed blocks are kept in free lists by size class and handed out again. Every kernel runs on
/// the device's one stream, so a block freed by the host can be reused at once: any later use is queued after
/// every earlier use (stream order). Blocks touched while a CUDA graph is being captured belong to that graph
/// until it is disposed, because each replay writes them again.
/// </summary>
public sealed class CudaAllocator : IDisposable
{
    private readonly CudaDevice _device;
    private readonly Lock _gate = new();
    private readonly Dictionary<long, Stack<ulong>> _free = new();
    private readonly Dictionary<ulong, Block> _live = new();
    private GraphPool? _capturing;

    private sealed class Block(long size)
    {
        public long Size { get; } = size;
        public GraphPool? Owner { get; set; }
    }

    /// <summary>Blocks owned by one captured graph.</summary>
    public sealed class GraphPool
    {
        internal readonly Dictionary<long, Stack<ulong>> Free = new();
        internal readonly HashSet<ulong> Owned = [];
    }

    internal CudaAllocator(CudaDevice device) => _device = device;

    public long InUse { get; private set; }
    public long PeakInUse { get; private set; }
    public long Cached { get; private set; }
    public long DeviceAllocations { get; private set; }
    public long Reuses { get; private set; }

    /// <summary>Size class: multiples of 512 B below 1 MiB, then eighths of the power of two (≤ 12.5% waste).</summary>
    public static long RoundSize(long bytes)
    {
        if (bytes <= 0) return 512;
        if (bytes < (1 << 20)) return (bytes + 511) & ~511L;
        long pow = 1L << (63 - (int)long.LeadingZeroCount(bytes));
        long step = pow / 8;
        return (bytes + step - 1) / step * step;
    }

    public ulong Allocate(long bytes)
    {
        long size = RoundSize(bytes);
        lock (_gate)
        {
            ulong ptr = 0;
            if (_capturing is not null && TryPop(_capturing.Free, size, out ptr)) { }
            else if (TryPop(_free, size, out ptr)) Cached -= size;
            if (ptr != 0) Reuses++;
            else ptr = AllocateFromDevice(bytes, size);
            var block = new Block(size);
            if (_capturing is not null)
            {
                block.Owner = _capturing;
                _capturing.Owned.Add(ptr);
            }
            _live[ptr] = block;
            InUse += size;
            PeakInUse = Math.Max(PeakInUse, InUse);
            return ptr;
        }
    }

    public void Free(ulong ptr)
    {
        lock (_gate)
        {
            if (!_live.Remove(ptr, out var block)) throw new InvalidOperationException($"CudaAllocator: 0x{ptr:x} was not allocated here or was freed twice");
            InUse -= block.Size;
            var pool = _capturing ?? block.Owner;
            if (pool is not null)
            {
                pool.Owned.Add(ptr);
                Push(pool.Free, block.Size, ptr);
            }
            else
            {
                Push(_free, block.Size, ptr);
                Cached += block.Size;
            }
        }
    }

    /// <summary>Routes allocations and frees into <paramref name="pool"/> until <see cref="EndCapture"/>.</summary>
    internal void BeginCapture(GraphPool pool)
    {
        lock (_gate)
        {
            if (_capturing is not null) throw new InvalidOperationException("a CUDA graph capture is already in progress");
            _capturing = pool;
        }
    }

    internal void EndCapture()
    {
        lock (_gate) _capturing = null;
    }

    /// <summary>True between <see cref="BeginCapture"/> and <see cref="EndCapture"/>: the stream is being captured.</summary>
    internal bool IsCapturing
    {
        get { lock (_gate) return _capturing is not null; }
    }

    /// <summary>A disposed graph's blocks go back to the shared cache (live ones when their tensors free them).</summary>
    internal void ReleasePool(GraphPool pool)
    {
        lock (_gate)
        {
            foreach (var (size, stack) in pool.Free)
                foreach (var p in stack)
                {
                    Push(_free, size, p);
                    Cached += size;
                }
            pool.Free.Clear();
            foreach (var (ptr, block) in _live)
                if (block.Owner == pool) block.Owner = null;
            pool.Owned.Clear();
        }
    }

    /// <summary>Returns every cached block to the driver (after the queued work that may still use them).</summary>
    public void EmptyCache()
    {
        lock (_gate)
        {
            if (_capturing is not null) return;
            _device.Synchronize();
            foreach (var stack in _free.Values)
                foreach (var p in stack) FreeToDevice(p);
            _free.Clear();
            Cached = 0;
        }
    }

    public string Describe() =>
        $"{Format(InUse)} in use (peak {Format(PeakInUse)}), {Format(Cached)} cached; {DeviceAllocations} device allocations, {Reuses} reuses";

    private ulong AllocateFromDevice(long bytes, long size)
    {
        _device.MakeCurrent();
        var r = Driver.cuMemAlloc_v2(out var ptr, (nuint)size);
        if (r == CuResult.ErrorOutOfMemory && _capturing is null && Cached > 0)
        {
            // Give the cache back and try once more: fragmentation across size classes is the usual cause.
            _device.Synchronize();
            foreach (var stack in _free.Values)
                foreach (var p in stack) FreeToDevice(p);
            _free.Clear();
            Cached = 0;
            r = Driver.cuMemAlloc_v2(out ptr, (nuint)size);
        }
        if (r == CuResult.ErrorOutOfMemory)
        {
            string device = "";
            try
            {
                var (free, total) = _device.MemoryInfo();
                device = $"; the device has {Format(free)} free of {Format(total)}";
            }
            catch (CudaException)
            {
            }
            throw new CudaOutOfMemoryException(
                $"CUDA out of memory on {_device.Name}: asked for {Format(bytes)} (block of {Format(size)}); {Format(InUse)} in use by tensors, {Format(Cached)} cached in the pool{device}");
        }
        Driver.Check(r, $"cuMemAlloc_v2({size})");
        DeviceAllocations++;
        _device.Profile.DriverAllocation();
        return ptr;
    }

    private void FreeToDevice(ulong ptr)
    {
        Driver.cuMemFree_v2(ptr);
        _device.Profile.DriverFree();
    }

    private static bool TryPop(Dictionary<long, Stack<ulong>> lists, long size, out ulong ptr)
    {
        ptr = 0;
        if (!lists.TryGetValue(size, out var s) || s.Count == 0) return false;
        ptr = s.Pop();
        return true;
    }

    private static void Push(Dictionary<long, Stack<ulong>> lists, long size, ulong ptr)
    {
        if (!lists.TryGetValue(size, out var s)) lists[size] = s = new Stack<ulong>();
        s.Push(ptr);
    }

    public static string Format(long bytes) => bytes switch
    {
        >= 1L << 30 => $"{bytes / (double)(1L << 30):0.##} GiB",
        >= 1L << 20 => $"{bytes / (double)(1L << 20):0.##} MiB",
        >= 1L << 10 => $"{bytes / 1024.0:0.##} KiB",
        _ => $"{bytes} B",
    };

    public void Dispose()
    {
        lock (_gate)
        {
            foreach (var stack in _free.Values)
                foreach (var p in stack) FreeToDevice(p);
            _free.Clear();
            Cached = 0;
        }
    }
}
