using Electra.Autograd;

namespace Electra;

/// <summary>
/// Differentiable functional ops. Each checks its inputs, allocates its outputs on the inputs' device, calls the
/// backend primitive and, when a parameter is involved, records how to run backward with backend primitives too,
/// so one formula serves every device. Which dtype each output has is <see cref="Autocast"/>'s decision.
/// </summary>
public static partial class Ops
{
    internal static Tensor Like(Tensor t, Shape? shape = null, DType? dtype = null) => Tensor.Empty(shape ?? t.Shape, dtype ?? t.DType, t.Device);

    private static void SameDevice(string op, params Tensor[] ts)
    {
        for (int i = 1; i < ts.Length; i++)
            if (ts[i].Device != ts[0].Device)
                throw new ArgumentException($"{op}: tensors on different devices ({ts[0].Device} and {ts[i].Device})");
    }

    private static void F32(string op, params Tensor[] ts)
    {
        foreach (var t in ts)
            if (t.DType != DType.F32) throw new ArgumentException($"{op}: expected f32, got {t.DType.Name()} {t.Shape}{(t.Name is null ? "" : $" ({t.Name})")}");
    }

    /// <summary>Activations: all F32, or all BF16 (mixed precision, which only the CUDA backend computes).</summary>
    private static void Activations(string op, params Tensor[] ts)
    {
        var dtype = ts[0].DType;
        foreach (var t in ts)
        {
            if (t.DType is not (DType.F32 or DType.BF16) || t.DType != dtype)
                throw new ArgumentException($"{op}: expected f32 or bf16 activations of one dtype, got {string.Join(" and ", ts.Select(x => $"{x.DType.Name()} {x.Shape}"))}");
            if (t.DType == DType.BF16 && t.Device.IsCpu) throw Autocast.CpuHasNoBf16(op);
        }
    }

    /// <summary>A new tensor with the same contents; not part of the graph.</summary>
    public static Tensor Copy(Tensor x)
    {
        var y = Like(x);
        x.Backend.Copy(x, y);
        return y;
    }

    /// <summary>A copy in another dtype (F32 ↔ BF16, rounding to nearest even); the gradient is cast back.</summary>
    public static Tensor Cast(Tensor x, DType dtype)
    {
        var y = Like(x, dtype: dtype);
        x.Backend.Copy(x, y);
        Node.Record("Cast", y, [x], g =>
        {
            var dX = Like(g, dtype: x.DType);
            g.Backend.Copy(g, dX);
            return [dX];
        });
        return y;
    }

    /// <summary>A copy of <paramref name="x"/> on <paramref name="device"/> (the same tensor's data when already there).</summary>
    public static Tensor To(Tensor x, Device device)
    {
        if (x.Device == device) return Copy(x);
        var host = new byte[x.Bytes];
        x.Backend.CopyToHost(x, host);
        var y = Tensor.Empty(x.Shape, x.DType, device);
        y.Backend.CopyFromHost(host, y);
        return y;
    }

    /// <summary>alpha·a + beta·b, same shapes.</summary>
    public static Tensor Add(Tensor a, Tensor b, float alpha = 1f, float beta = 1f)
    {
        SameDevice("Add", a, b);
        Activations("Add", a, b);
        if (a.Shape != b.Shape) throw new ArgumentException($"Add: shapes {a.Shape} and {b.Shape} differ");
        var y = Like(a);
        a.Backend.Add(a, b, y, alpha, beta);
        Node.RecordTakingHostGradients("Add", y, [a, b], g => [a.RequiresGrad ? ScaledGrad(g, alpha) : default, b.RequiresGrad ? ScaledGrad(g, beta) : default]);
        return y;
    }

    public static Tensor Scale(Tensor x, float alpha)
    {
        Activations("Scale", x);
        var y = Scaled(x, alpha);
        Node.RecordTakingHostGradients("Scale", y, [x], g => [ScaledGrad(g, alpha)]);
        return y;
    }

    /// <summary>
    /// α·g: a host number stays one (no launch); a tensor is g itself when α = 1, as the engine shares a gradient
    /// between uses without copying it.
    /// </summary>
    private static Gradient ScaledGrad(Gradient g, float alpha) =>
        g.HostValue is float c ? Gradient.Host(alpha * c) : alpha == 1f ? g : Scaled(g.Tensor!, alpha);

    private static Tensor Scaled(Tensor x, float alpha)
    {
        var y = Like(x);
        x.Backend.Scale(x, alpha, y);
        return y;
    }

    /// <summary>scale·Σx as a one-element tensor.</summary>
    public static Tensor Sum(Tensor x, float scale = 1f)
    {
        F32("Sum", x);
        var y = Like(x, new Shape());
        x.Backend.Sum(x, y, scale);
        Node.RecordTakingHostGradients("Sum", y, [x], g =>
        {
            if (g.HostValue is float c) return [Gradient.Host(scale * c)];
            var dX = Like(x);
            x.Backend.Fill(dX, scale);
            x.Backend.ScaleByScalar(dX, g.Tensor!, 1f, dX);
            return [dX];
        });
        return y;
    }

    /// <summary>Index of the largest element of each row (ties: lowest). Not differentiable.</summary>
    public static Tensor Argmax(Tensor x)
    {
        Activations("Argmax", x);
        var y = Like(x, new Shape(checked((int)x.Shape.Rows)), DType.I32);
        using var rows = x.View(-1, x.Shape.Last);
        x.Backend.Argmax(rows, y);
        return y;
    }

    /// <summary>1 where a ≠ b, else 0, as F32 (replaced-token labels from corrupted and original ids).</summary>
    public static Tensor NotEqual(Tensor a, Tensor b)
    {
        a.RequireDType(DType.I32, "NotEqual");
        b.RequireDType(DType.I32, "NotEqual");
        if (a.Shape != b.Shape) throw new ArgumentException($"NotEqual: shapes {a.Shape} and {b.Shape} differ");
        var y = Like(a, dtype: DType.F32);
        a.Backend.NotEqual(a, b, y);
        return y;
    }
}
