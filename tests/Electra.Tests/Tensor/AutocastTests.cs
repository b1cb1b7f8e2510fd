namespace Electra.Tests.Tensor;

using Tensor = Electra.Tensor;

/// <summary>The parts of the mixed-precision policy the CPU backend can check: casts and its refusal of bf16.</summary>
public class AutocastTests
{
    [Test]
    public void Bf16OnTheCpuIsRefusedWithWhatToDo()
    {
        using var table = Tensor.FromArray([1f, 2f, 3f, 4f], [2, 2]);
        using var ids = Tensor.FromArray([1], [1]);
        using (Autocast.Bf16())
        {
            var e = Assert.Throws<NotSupportedException>(() => Ops.Embedding(table, ids));
            Assert.That(e!.Message, Does.Contain("Embedding").And.Contain("CUDA").And.Contain("--precision fp32"));
            Assert.That(Autocast.IsBf16, Is.True);
        }
        Assert.That(Autocast.IsBf16, Is.False, "the scope ends with its using block");
        using var x = Ops.Cast(table, DType.BF16);
        var add = Assert.Throws<NotSupportedException>(() => Ops.Add(x, x));
        Assert.That(add!.Message, Does.Contain("Add").And.Contain("CUDA"));
    }

    [Test]
    public void Fp32AndTf32OpenNoScope()
    {
        using (Autocast.For(Precision.Tf32)) Assert.That(Autocast.IsBf16, Is.False);
        using (Autocast.For(Precision.Fp32)) Assert.That(Autocast.IsBf16, Is.False);
        using (Autocast.For(Precision.Bf16)) Assert.That(Autocast.IsBf16, Is.True);
    }

    [Test]
    public void CastRoundsToNearestEvenAndPassesTheGradientBackInTheInputDType()
    {
        // 1 + 2⁻⁸ is halfway between two bf16 values and rounds to the even one (1); 1 + 3·2⁻⁸ rounds up to 1 + 2⁻⁶.
        using var x = Tensor.FromArray([1f + 1f / 256, 1f + 3f / 256, -2.5f], [3]);
        x.RequiresGrad = true;
        using var scope = new TensorScope();
        var low = Ops.Cast(x, DType.BF16);
        Assert.That(low.DType, Is.EqualTo(DType.BF16));
        Assert.That(low.ToFloatArray(), Is.EqualTo(new[] { 1f, 1f + 1f / 64, -2.5f }));
        var back = Ops.Cast(low, DType.F32);
        var loss = Ops.Sum(Ops.Scale(back, 1f), 3f);
        loss.Backward();
        Assert.That(x.Grad!.DType, Is.EqualTo(DType.F32));
        Assert.That(x.Grad.ToFloatArray(), Is.EqualTo(new[] { 3f, 3f, 3f }));
        x.Grad.Dispose();
    }

    [Test]
    public void PrecisionNamesParseAndPrint()
    {
        Assert.That(PrecisionNames.Parse("BF16"), Is.EqualTo(Precision.Bf16));
        Assert.That(PrecisionNames.Parse(" tf32 "), Is.EqualTo(Precision.Tf32));
        Assert.That(PrecisionNames.Parse("fp32").Name(), Is.EqualTo("fp32"));
        var e = Assert.Throws<ArgumentException>(() => PrecisionNames.Parse("fp16"));
        Assert.That(e!.Message, Does.Contain("--precision 'fp16'").And.Contain("bf16, tf32 or fp32"));
    }
}
