using System.Runtime.InteropServices;
using Electra.Cuda.Interop;

namespace Electra.Cuda;

public sealed unsafe partial class CudaBackend
{
    // Multi-tensor launches take a device table of chunks (one block each). A table is found again by its contents,
    // so a step that passes the same tensors uploads nothing. Gradients come back at new addresses each step, so
    // a table whose contents changed is rewritten in place (an asynchronous upload, queued after every launch that
    // read the old contents): after the first step no table costs an allocation or a wait. A table that a captured
    // graph uses is never rewritten or freed while the backend lives, since every replay reads it again.
    private const int ChunkElements = 1 << 16;
    private const int MaxTables = 64;
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

    private sealed class ChunkTable(string kind, int count, ulong device, CudaProfile profile) : IDisposable
    {
        public string Kind { get; } = kind;
        public int Count { get; } = count;
        public ulong Device { get; } = device;

        /// <summary>Read by a captured graph: its contents must stay as they are.</summary>
        public bool Captured { get; set; }

        public void Dispose()
        {
            Driver.cuMemFree_v2(Device);
            profile.DriverFree();
        }
    }

    private ChunkTable Table<T>(string kind, T[] chunks) where T : unmanaged
    {
        var bytes = MemoryMarshal.AsBytes(chunks.AsSpan());
        string key = kind + ":" + Convert.ToBase64String(bytes);
        bool capturing = CudaDevice.Allocator.IsCapturing;
        if (_tables.TryGetValue(key, out var table))
        {
            table.Captured |= capturing;
            return table;
        }
        // A table first needed inside a capture (gradients allocated in the graph's pool) is uploaded as soon as the
        // capture ends: a copy recorded into the graph would be replayed every step, from host memory reused since.
        if (capturing)
        {
            table = CapturedTable(kind, chunks.Length, bytes);
            _tables[key] = table;
            return table;
        }
        var reusable = _tables.FirstOrDefault(e => !e.Value.Captured && e.Value.Kind == kind && e.Value.Count == chunks.Length);
        if (reusable.Value is not null)
        {
            _tables.Remove(reusable.Key);
            table = reusable.Value;
        }
        else
        {
            if (_tables.Count >= MaxTables) EvictUncapturedTables();
            CudaDevice.MakeCurrent();
            Driver.Check(Driver.cuMemAlloc_v2(out var d, (nuint)Math.Max(bytes.Length, 16)), "cuMemAlloc_v2(chunk table)");
            Profile.DriverAllocation();
            table = new ChunkTable(kind, chunks.Length, d, Profile);
        }
        lock (_copyGate) _uploads.Upload(bytes, table.Device);
        _tables[key] = table;
        return table;
    }

    private ChunkTable CapturedTable(string kind, int count, ReadOnlySpan<byte> bytes)
    {
        CudaDevice.MakeCurrent();
        Driver.Check(Driver.cuMemAlloc_v2(out var d, (nuint)Math.Max(bytes.Length, 16)), "cuMemAlloc_v2(chunk table)");
        Profile.DriverAllocation();
        var table = new ChunkTable(kind, count, d, Profile) { Captured = true };
        var contents = bytes.ToArray();
        CudaDevice.AfterCapture(() =>
        {
            lock (_copyGate) _uploads.Upload(contents, d);
        });
        return table;
    }

    /// <summary>Parameter sets that keep changing size: drop the tables no graph needs rather than grow forever.</summary>
    private void EvictUncapturedTables()
    {
        CudaDevice.Synchronize(); // cuMemFree must not free a table a queued launch still reads
        foreach (var (key, t) in _tables.Where(e => !e.Value.Captured).ToList())
        {
            t.Dispose();
            _tables.Remove(key);
        }
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
        K("adamw.cu", "adamw_step").Launch(((uint)table.Count, 1, 1), (Threads, 1, 1), 0, (ulong)table.Device, CapturedLr(lr, biasCorrection), lr, beta1, beta2, eps, c1, c2);
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
