namespace Electra.Tests.Tensor;

/// <summary>
/// Attention inputs with one non-finite entry each, shared by the CPU test (which checks where NaN must appear) and
/// the CUDA kernel tests (which must put NaN in exactly the CPU's places). qkv [B, T, 3, NH, HS], random in
/// [−1.5, 1.5); batch 1 has its last <see cref="Padding"/> keys padded.
/// </summary>
public static class AttentionNanCases
{
    public const int B = 2, Padding = 5;

    /// <summary>
    /// An input whose (<paramref name="PoisonB"/>, <paramref name="PoisonHead"/>) block holds a non-finite value; where
    /// <paramref name="ForwardNan"/>, that block's output is NaN at query <paramref name="NanQuery"/> or at every query
    /// (−1). Everything outside the block matches <paramref name="Baseline"/>'s results (the input without the poison).
    /// </summary>
    public sealed record Case(string Name, float[] Qkv, int[] Mask, float[] Baseline, int PoisonB = -1, int PoisonHead = -1,
        bool ForwardNan = true, int NanQuery = -1)
    {
        public bool InBlock(int b, int head) => b == PoisonB && head == PoisonHead;

        public bool NanAt(int b, int head, int query) => ForwardNan && InBlock(b, head) && (NanQuery < 0 || query == NanQuery);

        public override string ToString() => Name;
    }

    /// <summary>The clean inputs and each poisoned variant, for T tokens, NH heads of HS.</summary>
    public static IEnumerable<Case> All(int t, int nh, int hs)
    {
        int h = nh * hs;
        var clean = TestData.RandomFloats(B * t * 3 * h, 4242 + t, 1.5f);
        var mask = new int[B * t];
        for (int b = 0; b < B; b++)
            for (int j = 0; j < t - (b == 1 ? Padding : 0); j++) mask[b * t + j] = 1;
        int Index(int b, int token, int part, int head, int d) => ((b * t + token) * 3 + part) * h + head * hs + d;

        yield return new Case("clean", clean, mask, clean, ForwardNan: false);

        // The case: a query weight of NaN makes that query's vector NaN.
        var q = (float[])clean.Clone();
        for (int d = 0; d < hs; d++) q[Index(0, 3, 0, 1, d)] = float.NaN;
        yield return new Case("query row NaN", q, mask, clean, 0, 1, NanQuery: 3);

        // One NaN element of one real key reaches every query of that head.
        var k = (float[])clean.Clone();
        k[Index(0, 5, 1, 0, 2)] = float.NaN;
        yield return new Case("real key element NaN", k, mask, clean, 0, 0);

        // A padded key takes no part in the forward. (Its gradient block may be NaN: dQ = dS·K meets 0·NaN there,
        // as in any framework that masks scores.)
        var padded = (float[])clean.Clone();
        for (int d = 0; d < hs; d++) padded[Index(1, t - 1, 1, 0, d)] = float.NaN;
        yield return new Case("padded key NaN", padded, mask, clean, 1, 0, ForwardNan: false);

        // +∞ in a query against keys of both signs: scores +∞ and −∞, so the softmax is undefined (NaN).
        var inf = (float[])clean.Clone();
        inf[Index(1, 2, 0, 1, 0)] = float.PositiveInfinity;
        yield return new Case("query +inf", inf, mask, clean, 1, 1, NanQuery: 2);

        // Every real key scores −∞ for one query: as undefined as NaN, not "no key" (zeros).
        var minus = (float[])clean.Clone();
        for (int j = 0; j < t; j++) minus[Index(0, j, 1, 0, 0)] = 0.5f + j % 3;
        var minusBaseline = (float[])minus.Clone();
        for (int d = 0; d < hs; d++) minus[Index(0, 1, 0, 0, d)] = d == 0 ? float.NegativeInfinity : 0f;
        yield return new Case("all real scores -inf", minus, mask, minusBaseline, 0, 0, NanQuery: 1);

        // A sequence without any real key: zeros and lse −∞, as before.
        var none = (int[])mask.Clone();
        Array.Clear(none, t, t);
        yield return new Case("no real key", clean, none, clean, ForwardNan: false);
    }
}
