using static Electra.Tests.Cuda.Gpu;

namespace Electra.Tests.Cuda;

using Tensor = Electra.Tensor;

/// <summary>
/// reduce.cu's one-launch column sums: partials per row block, added by whichever block finishes last, in a fixed
/// order. Several row blocks and a ragged column tile; repeated launches check that the tickets reset and that
/// the bits never depend on which block was last (run under more than one simulator execution order).
/// </summary>
[Category("Gpu")]
public class ColumnSumsKernelTests
{
    [TestCase(1, 1)]
    [TestCase(255, 33)]
    [TestCase(1000, 70)]
    [TestCase(4099, 257)]
    public void SumRowsMatchesADoubleReferenceAndRepeatsBitForBit(int rows, int cols)
    {
        var dy = TestData.RandomFloats(rows * cols, rows + cols);
        var start = TestData.RandomFloats(cols, 7);
        using var gdy = Floats(dy, rows, cols);
        var want = new float[cols];
        for (int c = 0; c < cols; c++)
        {
            double s = 0.25 * start[c];
            for (int r = 0; r < rows; r++) s += dy[r * cols + c];
            want[c] = (float)s;
        }
        uint[]? first = null;
        for (int repeat = 0; repeat < 3; repeat++)
        {
            using var acc = Floats(start, cols);
            Backend.SumRows(gdy, acc, 0.25f);
            var got = acc.ToFloatArray();
            // F32 sums of up to 4,099 terms of magnitude ≤ 1: a few ulps of the running sum per term.
            AssertClose(got, want, 1e-5, $"SumRows [{rows}, {cols}] launch {repeat}");
            var bits = got.Select(BitConverter.SingleToUInt32Bits).ToArray();
            if (first is null) first = bits;
            else Assert.That(bits, Is.EqualTo(first), $"launch {repeat} differs from the first");
        }
        using var overwritten = Poisoned(cols);
        Backend.SumRows(gdy, overwritten, 0f);
        Assert.That(overwritten.ToFloatArray().Any(float.IsNaN), Is.False, "β = 0 must not read the destination");
    }
}
