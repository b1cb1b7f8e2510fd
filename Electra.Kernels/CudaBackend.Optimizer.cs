using System.Runtime.InteropServices;
using Electra.Cuda.Interop;

namespace Electra.Cuda;

public sealed unsafe partial class CudaBackend
{
    // Multi-tensor launches take a device table of chunks (one block each). A training step passes the same
    // tensors every time, so each table is built once, kept in pinned + device memory, and found again by its
    // contents; the upload is an async copy from pinned memory, which is also legal inside a graph capture.
    private const int ChunkElements = 1 << 16;
    private readonly Dictionary<string, ChunkTable> _tables = new();

    [StructLayout(LayoutKind.Sequential)]
    private struct Chunk
    {
        public ulong Ptr;
        public int Count;
        public int Pad;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct AdamChunk
    {
        public ulong P, G, M, V;
        public int Count;
        public float WeightDecay;
        public ulong Copy; // the parameter's bf16 copy, or 0
    }

    private sealed class ChunkTable : IDisposable
    {
        public PinnedBuffer Host { get; } = new();
        public ulong Device { get; set; }
        public int Count { get; set; }

        public void Dispose()
        {
            Host.Dispose();
            if (Device != 0) Driver.cuMemFree_v2(Device);
        }
    }

    private ChunkTable Table<T>(string kind, T[] chunks) where T : unmanaged
    {
        var bytes = MemoryMarshal.AsBytes(chunks.AsSpan());
        string key = kind + ":" + Convert.ToBase64String(bytes);
        if (_tables.TryGetValue(key, out var table)) return table;
        // Under stream capture the upload below would only be recorded, not done, and the eviction's synchronise
        // would break the capture: a table must exist before its op is captured.
        if (CudaDevice.Allocator.IsCapturing)
            throw new InvalidOperationException(
                $"{(kind == "adamw" ? "AdamW" : "GlobalNorm/ClipByNorm")} over this parameter set runs for the first time inside a CUDA graph capture; " +
                "run it once eagerly (a warm-up step) so its chunk table is on the device, then capture");
        if (_tables.Count > 64)
        {
            // Shapes or parameter sets that keep changing: drop the old tables rather than grow forever.
            CudaDevice.Synchronize();
            foreach (var t in _tables.Values) t.Dispose();
            _tables.Clear();
        }
        CudaDevice.MakeCurrent(); // before the pinned host buffer: cuMemAllocHost needs the context too
        table = new ChunkTable { Count = chunks.Length };
        table.Host.EnsureCapacity(bytes.Length);
        bytes.CopyTo(table.Host.Span(bytes.Length));
        Driver.Check(Driver.cuMemAlloc_v2(out var d, (nuint)Math.Max(bytes.Length, 16)), "cuMemAlloc_v2(chunk table)");
        table.Device = d;
        Driver.Check(Driver.cuMemcpyHtoDAsync_v2(d, (void*)table.Host.Pointer, (nuint)bytes.Length, CudaDevice.Stream), "cuMemcpyHtoDAsync_v2(chunk table)");
        _tables[key] = table;
        return table;
    }

    private static Chunk[] Chunks(IReadOnlyList<Tensor> tensors)
    {
        var list = new List<Chunk>();
        foreach (var t in tensors)
        {
            Require("multi-tensor op", t, DType.F32);
            for (long s = 0; s < t.Count; s += ChunkElements)
                list.Add(new Chunk { Ptr = Ptr(t) + (ulong)(s * 4), Count = (int)Math.Min(ChunkElements, t.Count - s) });
        }
        return list.ToArray();
    }

    public void AdamW(IReadOnlyList<AdamWSlot> slots, float lr, float beta1, float beta2, float eps, int step, bool biasCorrection)
    {
        float c1 = biasCorrection ? 1f / (1f - MathF.Pow(beta1, step)) : 1f;
        float c2 = biasCorrection ? 1f / (1f - MathF.Pow(beta2, step)) : 1f;
        var list = new List<AdamChunk>();
        foreach (var s in slots)
        {
            Own("AdamW", s.Param, s.Grad, s.M, s.V, s.Bf16Copy);
            F32("AdamW", s.Param, s.Grad, s.M, s.V);
            long n = s.Param.Count;
            if (s.Grad.Count != n || s.M.Count != n || s.V.Count != n)
                throw new ArgumentException($"AdamW: parameter {s.Param.Name ?? s.Param.Shape.ToString()} has mismatched grad/state sizes");
            if (s.Bf16Copy is { } copy && (copy.DType != DType.BF16 || copy.Count != n))
                throw new ArgumentException($"AdamW: the copy of {s.Param.Name ?? s.Param.Shape.ToString()} must be {n} bf16 elements, got {copy.Shape} {copy.DType.Name()}");
            for (long o = 0; o < n; o += ChunkElements)
            {
                ulong off = (ulong)(o * 4);
                list.Add(new AdamChunk
                {
                    P = Ptr(s.Param) + off, G = Ptr(s.Grad) + off, M = Ptr(s.M) + off, V = Ptr(s.V) + off,
                    Count = (int)Math.Min(ChunkElements, n - o), WeightDecay = s.WeightDecay,
                    Copy = s.Bf16Copy is null ? 0 : Ptr(s.Bf16Copy) + (ulong)(o * 2),
                });
            }
        }
        if (list.Count == 0) return;
        var table = Table("adamw", list.ToArray());
        K("adamw.cu", "adamw_step").Launch(((uint)table.Count, 1, 1), (Threads, 1, 1), 0, (ulong)table.Device, lr, beta1, beta2, eps, c1, c2);
    }

    public void GlobalNorm(IReadOnlyList<Tensor> tensors, Tensor norm)
    {
        Own("GlobalNorm", norm);
        foreach (var t in tensors) Own("GlobalNorm", t);
        var chunks = Chunks(tensors);
        if (chunks.Length == 0) { Fill(norm, 0f); return; }
        var table = Table("chunks", chunks);
        using var partials = Scratch(table.Count);
        K(Reduce, "sum_squares_chunks").Launch(((uint)table.Count, 1, 1), (Threads, 1, 1), 0, (ulong)table.Device, partials);
        K(Reduce, "norm_finish").Launch((1, 1, 1), (Threads, 1, 1), 0, partials, table.Count, norm);
    }

    public void ClipByNorm(IReadOnlyList<Tensor> tensors, Tensor norm, float maxNorm)
    {
        Own("ClipByNorm", norm);
        foreach (var t in tensors) Own("ClipByNorm", t);
        var chunks = Chunks(tensors);
        if (chunks.Length == 0) return;
        var table = Table("chunks", chunks);
        K(Reduce, "clip_chunks").Launch(((uint)table.Count, 1, 1), (Threads, 1, 1), 0, (ulong)table.Device, norm, maxNorm);
    }
}
