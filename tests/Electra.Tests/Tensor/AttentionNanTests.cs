namespace Electra.Tests.Tensor;

using Tensor = Electra.Tensor;

/// <summary>
/// NaN in a query or key must reach the attention output (and its lse and gradients) on the CPU backend, exactly
/// where it belongs: the poisoned (batch, head) block, and nothing else. Before, a row of NaN scores looked like a row
/// without real keys (the max skipped NaN) and came out as zeros, so a diverged model scored plausibly.
/// </summary>
public class AttentionNanTests
{
    private const int T = 9, NH = 2, HS = 8, H = NH * HS;

    public static IEnumerable<AttentionNanCases.Case> Cases => AttentionNanCases.All(T, NH, HS);

    /// <summary>Forward and backward of one case on the CPU backend: out [B, T, H], lse [B, NH, T], dQkv [B, T, 3H].</summary>
    public static (float[] Out, float[] Lse, float[] DQkv) Run(float[] qkvData, int[] mask, int t, int nh, int hs)
    {
        int b = AttentionNanCases.B, h = nh * hs;
        var cpu = Backends.Cpu;
        using var qkv = Tensor.FromArray(qkvData, [b, t, 3 * h]);
        using var keyMask = Tensor.FromArray(mask, [b, t]);
        using var output = Tensor.Full([b, t, h], 12345f);
        using var lse = Tensor.Full([b, nh, t], 12345f);
        cpu.AttentionForward(qkv, keyMask, nh, 1f / MathF.Sqrt(hs), 0f, 1, 0, output, lse);
        using var dOut = Tensor.FromArray(TestData.RandomFloats(b * t * h, 77), [b, t, h]);
        using var dQkv = Tensor.Full([b, t, 3 * h], 12345f);
        cpu.AttentionBackward(dOut, qkv, keyMask, output, lse, nh, 1f / MathF.Sqrt(hs), 0f, 1, 0, dQkv);
        return (output.ToFloatArray(), lse.ToFloatArray(), dQkv.ToFloatArray());
    }

    [TestCaseSource(nameof(Cases))]
    public void NanReachesExactlyThePoisonedHead(AttentionNanCases.Case c)
    {
        var (cleanOut, cleanLse, cleanD) = Run(c.Baseline, c.Mask, T, NH, HS);
        bool noKey = c.Name == "no real key";
        Assert.That(cleanOut.Concat(cleanD).All(float.IsFinite), Is.True, "the baseline is finite");
        Assert.That(cleanLse.All(l => float.IsFinite(l) || (noKey && l == float.NegativeInfinity)), Is.True, "the baseline's lse");
        var (o, lse, d) = Run(c.Qkv, c.Mask, T, NH, HS);

        for (int b = 0; b < AttentionNanCases.B; b++)
            for (int head = 0; head < NH; head++)
                for (int i = 0; i < T; i++)
                {
                    string at = $"{c.Name}: b {b} head {head} query {i}";
                    int li = (b * NH + head) * T + i;
                    var row = o.AsSpan((b * T + i) * H + head * HS, HS).ToArray();
                    var cleanRow = cleanOut.AsSpan((b * T + i) * H + head * HS, HS).ToArray();
                    if (c.NanAt(b, head, i))
                    {
                        Assert.That(row, Is.All.NaN, at);
                        Assert.That(lse[li], Is.NaN, at + " lse");
                    }
                    else if (noKey && b == 1)
                    {
                        Assert.That(row, Is.All.Zero, at);
                        Assert.That(lse[li], Is.EqualTo(float.NegativeInfinity), at + " lse");
                    }
                    else
                    {
                        Assert.That(row, Is.EqualTo(cleanRow), at);
                        Assert.That(lse[li], Is.EqualTo(cleanLse[li]), at + " lse");
                    }
                }

        // Gradients: a NaN query row's own gradient is NaN; every other (batch, head) block is untouched.
        for (int b = 0; b < AttentionNanCases.B; b++)
            for (int head = 0; head < NH; head++)
            {
                if (c.InBlock(b, head))
                {
                    for (int i = 0; i < T; i++)
                        if (c.NanAt(b, head, i))
                            Assert.That(d.AsSpan((b * T + i) * 3 * H + head * HS, HS).ToArray(), Is.All.NaN, $"{c.Name}: dQ of query {i}");
                    continue;
                }
                if (noKey && b == 1) continue;
                for (int i = 0; i < T; i++)
                    for (int part = 0; part < 3; part++)
                    {
                        int at = (b * T + i) * 3 * H + part * H + head * HS;
                        Assert.That(d.AsSpan(at, HS).ToArray(), Is.EqualTo(cleanD.AsSpan(at, HS).ToArray()), $"{c.Name}: d{"QKV"[part]} b {b} head {head} token {i}");
                    }
            }
    }
}
