namespace Electra.Model;

/// <summary>
/// Area under the ROC curve: the chance that a random positive scores above a random negative (ties count half).
/// For the discriminator it says whether replaced tokens are ranked above original ones at all, which accuracy at
/// the 0.5 threshold cannot show while every probability is still below 0.5.
/// </summary>
public static class RocAuc
{
    /// <summary>
    /// AUC of <paramref name="scores"/> for the items where <paramref name="include"/> holds, by the Mann–Whitney
    /// rank sum with tied scores sharing their average rank; NaN when either class is empty or a score is NaN.
    /// </summary>
    public static float Compute(ReadOnlySpan<float> scores, ReadOnlySpan<bool> positive, ReadOnlySpan<bool> include)
    {
        if (scores.Length != positive.Length || scores.Length != include.Length)
            throw new ArgumentException($"RocAuc: {scores.Length} scores, {positive.Length} labels and {include.Length} include flags");
        var items = new List<(float Score, bool Positive)>(scores.Length);
        for (int i = 0; i < scores.Length; i++)
        {
            if (!include[i]) continue;
            if (float.IsNaN(scores[i])) return float.NaN; // a diverged step: the run's own check reports it
            items.Add((scores[i], positive[i]));
        }
        items.Sort((a, b) => a.Score.CompareTo(b.Score));

        long positives = 0, negatives = 0;
        double positiveRankSum = 0;
        for (int start = 0; start < items.Count;)
        {
            int end = start;
            while (end < items.Count && items[end].Score == items[start].Score) end++;
            double averageRank = (start + 1 + end) / 2.0; // ranks start+1 … end
            for (int i = start; i < end; i++)
            {
                if (items[i].Positive) { positives++; positiveRankSum += averageRank; }
                else negatives++;
            }
            start = end;
        }
        if (positives == 0 || negatives == 0) return float.NaN;
        return (float)((positiveRankSum - positives * (positives + 1) / 2.0) / ((double)positives * negatives));
    }
}
