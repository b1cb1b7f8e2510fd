using Electra.Autograd;

namespace Electra;

public static partial class Ops
{
    /// <summary>
    /// y = x·Wᵀ + b. x [..., In] (all leading axes are rows); weight [Out, In] as in PyTorch; bias [Out] or null.
    /// Under <see cref="Autocast"/> the GEMM reads bf16 x and the weight's bf16 copy, accumulates in F32 and
    /// writes bf16 y; the weight and bias gradients are F32.
    /// </summary>
    public static Tensor Linear(Tensor x, Tensor weight, Tensor? bias)
    {
        CheckLinear("Linear", x, weight, bias);
        x = Autocast.Operand(x, "Linear");
        var w = Autocast.Weight(weight, x.DType);
        var (rows, y2, y) = LinearOutput(x, weight);
        using (var x2 = x.View(rows, weight.Shape[1]))
        {
            x.Backend.Gemm(x2, false, w, true, y2);
        }
        if (bias is not null) x.Backend.AddBias(y2, bias, y2);
        y2.Dispose();
        Node.Record("Linear", y, bias is null ? [x, weight] : [x, weight, bias], g => LinearBackward(g, x, weight, w, bias, rows));
        return y;
    }

    /// <summary>y = GELU(x·Wᵀ + b) with exact (erf) GELU, the bias and activation fused into one pass.</summary>
    public static Tensor LinearGelu(Tensor x, Tensor weight, Tensor bias)
    {
        CheckLinear("LinearGelu", x, weight, bias);
        x = Autocast.Operand(x, "LinearGelu");
        var w = Autocast.Weight(weight, x.DType);
        var (rows, y2, y) = LinearOutput(x, weight);
        var pre = Tensor.Empty(y2.Shape, x.DType, x.Device); // x·Wᵀ before bias and GELU; backward needs it
        using (var x2 = x.View(rows, weight.Shape[1]))
        {
            x.Backend.Gemm(x2, false, w, true, pre);
        }
        x.Backend.BiasGeluForward(pre, bias, y2);
        y2.Dispose();
        if (!Node.ShouldRecord(x, weight, bias))
        {
            pre.Dispose();
            return y;
        }
        Node.Record("LinearGelu", y, [x, weight, bias], g =>
        {
            using var g2 = g.View(rows, weight.Shape[0]);
            var dPre = Tensor.Empty(g2.Shape, x.DType, x.Device);
            var dBias = Like(bias);
            x.Backend.BiasGeluBackward(g2, pre, bias, dPre, dBias);
            var grads = LinearBackward(dPre, x, weight, w, null, rows);
            dPre.Dispose();
            return [grads[0], grads[1], bias.RequiresGrad ? dBias : Discard(dBias)];
        }, pre);
        return y;
    }

    private static Tensor? Discard(Tensor t)
    {
        t.Dispose();
        return null;
    }

    private static void CheckLinear(string op, Tensor x, Tensor weight, Tensor? bias)
    {
        SameDevice(op, bias is null ? [x, weight] : [x, weight, bias]);
        Activations(op, x);
        F32(op, bias is null ? [weight] : [weight, bias]);
        if (weight.Rank != 2) throw new ArgumentException($"{op}: weight must be [out, in], got {weight.Shape}");
        if (x.Rank < 1 || x.Shape.Last != weight.Shape[1])
            throw new ArgumentException($"{op}: input {x.Shape} does not match weight {weight.Shape}{(weight.Name is null ? "" : $" ({weight.Name})")}: last axis must be {weight.Shape[1]}");
        if (bias is not null && (bias.Rank != 1 || bias.Shape[0] != weight.Shape[0]))
            throw new ArgumentException($"{op}: bias {bias.Shape} does not match weight {weight.Shape}: expected [{weight.Shape[0]}]");
    }

    private static (int rows, Tensor y2, Tensor y) LinearOutput(Tensor x, Tensor weight)
    {
        int rows = checked((int)x.Shape.Rows);
        var dims = x.Shape.ToArray();
        dims[^1] = weight.Shape[0];
        var y = Tensor.Empty(new Shape(dims), x.DType, x.Device);
        return (rows, y.View(rows, weight.Shape[0]), y);
    }

    /// <summary>dX = g·W with the operand the forward used (<paramref name="w"/>); dW = gᵀ·x and dB in the weight's F32.</summary>
    private static Tensor?[] LinearBackward(Tensor g, Tensor x, Tensor weight, Tensor w, Tensor? bias, int rows)
    {
        using var g2 = g.View(rows, weight.Shape[0]);
        using var x2 = x.View(rows, weight.Shape[1]);
        Tensor? dX = null, dW = null, dB = null;
        if (x.RequiresGrad)
        {
            // x's gradient may already be partly summed (x also feeds a residual): the GEMM adds into it (β = 1).
            var into = GradAccumulation.TargetFor(x);
            dX = into ?? Like(x);
            using var dX2 = dX.View(rows, weight.Shape[1]);
            x.Backend.Gemm(g2, false, w, false, dX2, 1f, into is null ? 0f : 1f);      // [rows, Out]·[Out, In]
        }
        if (weight.RequiresGrad)
        {
            // A tied weight (the generator's output projection is the word embedding) adds into its earlier uses'.
            var into = GradAccumulation.TargetFor(weight);
            dW = into ?? Like(weight);
            x.Backend.Gemm(g2, true, x2, false, dW, 1f, into is null ? 0f : 1f);            // [Out, rows]·[rows, In]
        }
        if (bias is not null && bias.RequiresGrad)
        {
            var into = GradAccumulation.TargetFor(bias);
            dB = into ?? Like(bias);
            x.Backend.SumRows(g2, dB, into is null ? 0f : 1f);
        }
        return bias is null ? [dX, dW] : [dX, dW, dB];
    }
}
