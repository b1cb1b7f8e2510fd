using System.Numerics.Tensors;
using System.Runtime.ExceptionServices;
using System.Runtime.InteropServices;

namespace Electra.Cpu;

/// <summary>
/// The CPU backend: the executable specification of every primitive, and fast enough to train the tiny preset.
/// Row loops run in parallel over blocks of rows; inner loops use SIMD (TensorPrimitives or Vector512/256).
/// Each family of primitives lives in its own file, named after it.
/// </summary>
public sealed unsafe partial class CpuBackend : IBackend
{
    public static CpuBackend Instance { get; } = new();

    private CpuBackend() { }

    public Device Device => Device.Cpu;

    public Storage Allocate(long bytes) => new CpuStorage(this, bytes);

    public void Synchronize() { }

    public void CopyFromHost(ReadOnlySpan<byte> source, Tensor destination)
    {
        if (source.Length != destination.Bytes)
            throw new ArgumentException($"CopyFromHost: {source.Length} bytes for a tensor of {destination.Bytes}");
        source.CopyTo(new Span<byte>((void*)destination.Pointer, source.Length));
    }

    public void CopyToHost(Tensor source, Span<byte> destination)
    {
        if (destination.Length != source.Bytes)
            throw new ArgumentException($"CopyToHost: {destination.Length} bytes for a tensor of {source.Bytes}");
        new ReadOnlySpan<byte>((void*)source.Pointer, destination.Length).CopyTo(destination);
    }

    internal static Span<float> F(Tensor t) => new((void*)t.Pointer, checked((int)t.Count));
    internal static Span<int> I(Tensor t) => new((void*)t.Pointer, checked((int)t.Count));
    internal static float* P(Tensor t) => (float*)t.Pointer;
    internal static int* PI(Tensor t) => (int*)t.Pointer;

    internal static void SameCount(string op, Tensor a, Tensor b)
    {
        if (a.Count != b.Count) throw new ArgumentException($"{op}: {a.Shape} and {b.Shape} have different element counts");
    }

    /// <summary>Runs body(start, end) over [0, n) in blocks big enough to amortise scheduling.</summary>
    internal static void ParallelRows(int n, long workPerRow, Action<int, int> body)
    {
        const long minWorkPerTask = 32 * 1024;
        int tasks = (int)Math.Clamp(n * Math.Max(workPerRow, 1) / minWorkPerTask, 1, Environment.ProcessorCount * 4);
        tasks = Math.Min(tasks, n);
        if (tasks <= 1) { body(0, n); return; }
        int per = (n + tasks - 1) / tasks;
        try
        {
            Parallel.For(0, tasks, k =>
            {
                int start = k * per, end = Math.Min(n, start + per);
                if (start < end) body(start, end);
            });
        }
        catch (AggregateException ae) when (ae.InnerExceptions.Count > 0)
        {
            // A worker's input error (a target outside the vocabulary, ...) reaches the caller as itself, not
            // wrapped, exactly as when the rows run on one thread.
            ExceptionDispatchInfo.Throw(ae.InnerExceptions[0]);
        }
    }

    // ---- element-wise -------------------------------------------------------------------------------------------

    public void Fill(Tensor dst, float value)
    {
        switch (dst.DType)
        {
            case DType.F32: F(dst).Fill(value); break;
            case DType.I32: I(dst).Fill((int)value); break;
            case DType.BF16: new Span<ushort>((void*)dst.Pointer, (int)dst.Count).Fill(BFloat16.FromFloat(value)); break;
        }
    }

    public void Copy(Tensor src, Tensor dst)
    {
        SameCount("Copy", src, dst);
        if (src.DType == dst.DType)
        {
            new ReadOnlySpan<byte>((void*)src.Pointer, (int)src.Bytes).CopyTo(new Span<byte>((void*)dst.Pointer, (int)dst.Bytes));
            return;
        }
        int n = (int)src.Count;
        if (src.DType == DType.F32 && dst.DType == DType.BF16)
        {
            var s = F(src);
            var d = new Span<ushort>((void*)dst.Pointer, n);
            for (int i = 0; i < n; i++) d[i] = BFloat16.FromFloat(s[i]);
        }
        else if (src.DType == DType.BF16 && dst.DType == DType.F32)
        {
            var s = new ReadOnlySpan<ushort>((void*)src.Pointer, n);
            var d = F(dst);
            for (int i = 0; i < n; i++) d[i] = BFloat16.ToFloat(s[i]);
        }
        else
        {
            throw new ArgumentException($"Copy: no conversion from {src.DType.Name()} to {dst.DType.Name()}");
        }
    }

    public void Add(Tensor a, Tensor b, Tensor dst, float alpha, float beta)
    {
        SameCount("Add", a, b);
        SameCount("Add", a, dst);
        float* pa = P(a), pb = P(b), pd = P(dst);
        ParallelRows((int)a.Count, 1, (s, e) =>
        {
            var sa = new ReadOnlySpan<float>(pa + s, e - s);
            var sb = new ReadOnlySpan<float>(pb + s, e - s);
            var sd = new Span<float>(pd + s, e - s);
            if (alpha == 1f && beta == 1f) TensorPrimitives.Add(sa, sb, sd);
            else if (alpha == 1f) TensorPrimitives.MultiplyAdd(sb, beta, sa, sd);
            else
            {
                for (int i = 0; i < sd.Length; i++) sd[i] = alpha * sa[i] + beta * sb[i];
            }
        });
    }

    public void Scale(Tensor x, float alpha, Tensor dst)
    {
        SameCount("Scale", x, dst);
        TensorPrimitives.Multiply(F(x), alpha, F(dst));
    }

    public void ScaleByScalar(Tensor x, Tensor scalar, float alpha, Tensor dst)
    {
        SameCount("ScaleByScalar", x, dst);
        if (scalar.Count != 1) throw new ArgumentException($"ScaleByScalar: scalar must have one element, got {scalar.Shape}");
        float s = alpha * F(scalar)[0];
        if (s == 1f && x.Pointer == dst.Pointer) return;
        TensorPrimitives.Multiply(F(x), s, F(dst));
    }

    public void NotEqual(Tensor a, Tensor b, Tensor dst)
    {
        SameCount("NotEqual", a, b);
        SameCount("NotEqual", a, dst);
        var sa = I(a);
        var sb = I(b);
        var sd = F(dst);
        for (int i = 0; i < sd.Length; i++) sd[i] = sa[i] != sb[i] ? 1f : 0f;
    }

    public void Sum(Tensor x, Tensor dst, float scale, Tensor? scaleBy = null)
    {
        if (dst.Count != 1) throw new ArgumentException($"Sum: dst must have one element, got {dst.Shape}");
        // Pairwise summation in double keeps losses over millions of elements exact to float precision.
        var s = F(x);
        double total = 0;
        const int block = 4096;
        for (int i = 0; i < s.Length; i += block) total += TensorPrimitives.Sum(s.Slice(i, Math.Min(block, s.Length - i)));
        // As the CUDA kernel: the two scales multiplied in float, then the double sum by their product.
        F(dst)[0] = (float)(total * (scaleBy is null ? scale : scale * Scalar("Sum", scaleBy)));
    }
}
