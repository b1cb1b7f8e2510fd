using System.Globalization;
using System.Text.RegularExpressions;
using Electra.Cuda.Compile;

namespace Electra.Tests.Cuda;

/// <summary>
/// The constant GUMBEL_MAX_DRAW in kernels-cu/common.cuh, which lets the sampling kernels skip the noise of columns
/// that cannot win, must be the true maximum of the CPU's Gumbel draw over every possible uniform: a smaller value
/// would make the kernels skip a column that could win (samples no longer bit-identical to the CPU's). Needs no GPU.
/// </summary>
public partial class GumbelBoundTests
{
    [GeneratedRegex(@"#define GUMBEL_MAX_DRAW (\S+)f")]
    private static partial Regex Constant();

    [Test]
    public void KernelConstantIsTheLargestPossibleDraw()
    {
        float max = float.NegativeInfinity;
        uint argmax = 0;
        for (uint k = 0; k < 1u << 23; k++)
        {
            float g = Philox.Gumbel(k << 9); // UniformOpen uses the top 23 bits
            if (g > max) { max = g; argmax = k; }
        }
        var m = Constant().Match(KernelSources.Read("common.cuh"));
        Assert.That(m.Success, Is.True, "common.cuh defines GUMBEL_MAX_DRAW as a float literal");
        float constant = float.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
        Assert.That(constant, Is.EqualTo(max), $"largest draw {max:R} (bits 0x{BitConverter.SingleToUInt32Bits(max):X8}) at uniform index {argmax}");
        // The draw that mattered most is the top uniform; the bound must cover it with room for no other.
        Assert.That(Philox.Gumbel(uint.MaxValue), Is.LessThanOrEqualTo(constant));
        Assert.That(max, Is.InRange(16.5f, 16.8f), "−log(−log(1 − 2⁻²⁴)) ≈ 16.64");
    }
}
