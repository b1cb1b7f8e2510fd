namespace Electra;

/// <summary>
/// The dtype policy of the ops, in one place: the ops ask it, modules never cast.
/// <para>Outside a BF16 scope (the default) every floating-point tensor is F32.</para>
/// <para>Inside <see cref="Bf16"/> (mixed precision, CUDA only):</para>
/// <list type="bullet">
/// <item>Activations are BF16: the outputs of Embedding and of every Linear, and with them everything computed from
///   them — Add, Scale, Dropout, LayerNorm, Attention and GatherRows write their inputs' dtype. Gradients of BF16
///   activations are BF16.</item>
/// <item>GEMM operands are BF16 with F32 accumulation: a Linear's F32 input is cast (a recorded op, so its gradient
///   is cast back); its weight is read through the parameter's bf16 copy.</item>
/// <item>F32 stays where precision matters: parameters (the master weights) and their gradients (dW is a BF16×BF16
///   GEMM written in F32; bias gradients, LayerNorm dγ/dβ and embedding-table gradients are F32 sums), Adam's
///   moments, LayerNorm mean/rstd, the attention log-sum-exp, losses — softmax cross-entropy reads bf16 logits with
///   F32 arithmetic, BCE and MSE read their input cast to F32 — and every reduction to a scalar.</item>
/// </list>
/// <para>A parameter's bf16 copy is made on its first use as a GEMM operand and then written by AdamW in the same pass
/// as the F32 update, so it never lags; code that writes parameters any other way calls <see cref="ForgetCopies"/>.
/// The scope is per thread, like <see cref="Autograd.GradMode"/>.</para>
/// </summary>
public static class Autocast
{
    [ThreadStatic] private static int _bf16;

    /// <summary>True inside a <see cref="Bf16"/> scope on this thread.</summary>
    public static bool IsBf16 => _bf16 > 0;

    /// <summary>Turns BF16 mixed precision on for this thread until disposed (scopes nest).</summary>
    public static IDisposable Bf16() => new Scope();

    /// <summary>The scope <paramref name="precision"/> asks for: BF16 for bf16; none (F32) for fp32 and tf32.</summary>
    public static IDisposable For(Precision precision) => precision == Precision.Bf16 ? Bf16() : NoScope.Instance;

    /// <summary>The dtype of the activations an op creates on <paramref name="device"/> (Embedding, Linear).</summary>
    internal static DType Activations(Device device, string op)
    {
        if (!IsBf16) return DType.F32;
        if (device.IsCpu) throw CpuHasNoBf16(op);
        return DType.BF16;
    }

    internal static NotSupportedException CpuHasNoBf16(string op) =>
        new($"{op}: bf16 mixed precision needs the CUDA backend; the CPU backend computes in f32 only (use --precision fp32 on the CPU)");

    /// <summary>A GEMM's activation operand: x itself, or (in a BF16 scope) x cast to BF16, recorded for autograd.</summary>
    internal static Tensor Operand(Tensor x, string op)
    {
        var dtype = x.DType == DType.F32 ? Activations(x.Device, op) : x.DType;
        return dtype == x.DType ? x : Ops.Cast(x, dtype);
    }

    /// <summary>A weight as the GEMM operand beside an activation of <paramref name="dtype"/>: the F32 master, or its bf16 copy.</summary>
    internal static Tensor Weight(Tensor weight, DType dtype)
    {
        if (dtype == weight.DType) return weight;
        if (dtype != DType.BF16 || weight.DType != DType.F32)
            throw new ArgumentException($"no {dtype.Name()} operand for a {weight.DType.Name()} weight {weight.Shape}{(weight.Name is null ? "" : $" ({weight.Name})")}");
        if (weight.Bf16Copy is { IsDisposed: false } copy) return copy;
        weight.Bf16Copy = TensorScope.Outside(() =>
        {
            var c = Tensor.Empty(weight.Shape, DType.BF16, weight.Device);
            weight.Backend.Copy(weight, c);
            return c;
        });
        return weight.Bf16Copy;
    }

    /// <summary>A loss's input in F32: BF16 logits or predictions are cast (recorded, so the gradient goes back as BF16).</summary>
    internal static Tensor LossInput(Tensor x) => x.DType == DType.BF16 ? Ops.Cast(x, DType.F32) : x;

    /// <summary>
    /// Drops the bf16 copies of <paramref name="parameters"/>, to be made again from their current values at next use:
    /// for code that writes parameters other than through AdamW (checkpoint loading).
    /// </summary>
    public static void ForgetCopies(IEnumerable<Tensor> parameters)
    {
        foreach (var p in parameters)
        {
            p.Bf16Copy?.Dispose();
            p.Bf16Copy = null;
        }
    }

    private sealed class Scope : IDisposable
    {
        private bool _done;

        public Scope() => _bf16++;

        public void Dispose()
        {
            if (_done) return;
            _done = true;
            _bf16--;
        }
    }

    private sealed class NoScope : IDisposable
    {
        public static readonly NoScope Instance = new();

        public void Dispose() { }
    }
}
