using Electra.Model;

namespace Electra.Tests.Model;

public class MaskingTests
{
    private static readonly SpecialTokens Special = new();

    /// <summary>B sequences of the given real lengths: [CLS] words… [SEP], then [PAD] up to T.</summary>
    private static (int[] ids, int[] mask) Batch(int t, params int[] lengths)
    {
        var ids = new int[lengths.Length * t];
        var mask = new int[ids.Length];
        for (int b = 0; b < lengths.Length; b++)
            for (int j = 0; j < lengths[b]; j++)
            {
                ids[b * t + j] = j == 0 ? Special.Cls : j == lengths[b] - 1 ? Special.Sep : 2000 + b * 100 + j;
                mask[b * t + j] = 1;
            }
        return (ids, mask);
    }

    [TestCase(128, 19)]   // round(0.15·128) = 19.2 → 19, also the cap
    [TestCase(100, 15)]   // 15.0
    [TestCase(30, 4)]     // 4.5 → 4 (half to even, as tf.round)
    [TestCase(50, 8)]     // 7.5 → 8
    [TestCase(3, 1)]      // 0.45 → 0, raised to the minimum of 1
    public void ChoosesKPerSequenceFromTheNonPaddingLength(int realTokens, int expectedK)
    {
        var (ids, mask) = Batch(128, realTokens);
        var plan = Masking.Choose(ids, mask, 1, 128, Special, maxPredictions: 19, seed: 5, offset: 9);
        Assert.That(plan.Positions, Has.Length.EqualTo(expectedK));
    }

    [Test]
    public void CapsAtMaxPredictionsAndAtTheNumberOfCandidates()
    {
        var (ids, mask) = Batch(128, 128);
        Assert.That(Masking.Choose(ids, mask, 1, 128, Special, 7, 1, 1).Positions, Has.Length.EqualTo(7));
        // [CLS] x [SEP]: k = max(1, round(0.45)) = 1 and exactly one candidate.
        var (ids3, mask3) = Batch(8, 3);
        Assert.That(Masking.Choose(ids3, mask3, 1, 8, Special, 19, 1, 1).Positions, Is.EqualTo(new[] { 1 }));
    }

    [Test]
    public void NeverMasksSpecialOrPaddingTokensAndKeepsEverythingElse()
    {
        var (ids, mask) = Batch(40, 40, 25, 9, 2);
        for (ulong seed = 0; seed < 200; seed++)
        {
            var plan = Masking.Choose(ids, mask, 4, 40, Special, 6, seed, 3);
            foreach (var p in plan.Positions)
            {
                Assert.That(mask[p], Is.EqualTo(1));
                Assert.That(Special.IsSpecial(ids[p]), Is.False);
            }
            Assert.That(plan.Positions, Is.Ordered.And.Unique);
            Assert.That(plan.Originals, Is.EqualTo(plan.Positions.Select(p => ids[p]).ToArray()));
            for (int i = 0; i < ids.Length; i++)
                if (!plan.Positions.Contains(i)) Assert.That(plan.InputIds[i], Is.EqualTo(ids[i]));
        }
    }

    [Test]
    public void EightyFivePercentBecomeMaskAndTheRestKeepTheirToken()
    {
        var (ids, mask) = Batch(128, 128, 128, 128, 128, 128);
        int masked = 0, kept = 0, other = 0;
        for (ulong offset = 0; offset < 400; offset++)
        {
            var plan = Masking.Choose(ids, mask, 5, 128, Special, 19, 42, offset);
            foreach (var p in plan.Positions)
            {
                if (plan.InputIds[p] == Special.Mask) masked++;
                else if (plan.InputIds[p] == ids[p]) kept++;
                else other++;
            }
        }
        int total = masked + kept + other;
        Assert.That(total, Is.EqualTo(400 * 5 * 19));
        Assert.That(other, Is.Zero, "ELECTRA never substitutes a random token");
        // 38,000 draws: σ of the [MASK] share is √(0.85·0.15/38000) ≈ 0.0018; allow 4σ.
        Assert.That((double)masked / total, Is.EqualTo(0.85).Within(0.0075));
    }

    [Test]
    public void PositionsAreUniformAmongCandidates()
    {
        var (ids, mask) = Batch(12, 12);
        var counts = new int[12];
        const int draws = 20000;
        for (ulong offset = 0; offset < draws; offset++)
            foreach (var p in Masking.Choose(ids, mask, 1, 12, Special, 19, 7, offset).Positions) counts[p]++;
        // k = round(1.8) = 2 of the 10 candidates: each is chosen with probability 0.2.
        Assert.That(counts[0], Is.Zero);
        Assert.That(counts[11], Is.Zero);
        foreach (var c in counts.Skip(1).Take(10))
            Assert.That((double)c / draws, Is.EqualTo(0.2).Within(0.012)); // 4σ, σ = √(0.2·0.8/20000)
    }

    [Test]
    public void BertVariantReplacesTenPercentWithRandomTokens()
    {
        var (ids, mask) = Batch(128, 128, 128, 128, 128);
        int maskTok = 0, random = 0, kept = 0;
        for (ulong offset = 0; offset < 300; offset++)
        {
            var plan = Masking.Choose(ids, mask, 4, 128, Special, 19, 9, offset, maskTokenProb: 0.8f, randomTokenProb: 0.1f, vocabSize: 30522);
            foreach (var p in plan.Positions)
            {
                if (plan.InputIds[p] == Special.Mask) maskTok++;
                else if (plan.InputIds[p] == ids[p]) kept++;
                else random++;
            }
        }
        double total = maskTok + random + kept;
        Assert.That(maskTok / total, Is.EqualTo(0.8).Within(0.012));
        Assert.That(random / total, Is.EqualTo(0.1).Within(0.01));
    }

    [Test]
    public void SameSeedAndOffsetGiveTheSamePlan()
    {
        var (ids, mask) = Batch(64, 64, 40);
        var a = Masking.Choose(ids, mask, 2, 64, Special, 10, 3, 77);
        var b = Masking.Choose(ids, mask, 2, 64, Special, 10, 3, 77);
        var c = Masking.Choose(ids, mask, 2, 64, Special, 10, 3, 78);
        Assert.That(b.Positions, Is.EqualTo(a.Positions));
        Assert.That(b.InputIds, Is.EqualTo(a.InputIds));
        Assert.That(c.Positions, Is.Not.EqualTo(a.Positions));
    }
}
