namespace Electra.Train.Data;

/// <summary>
/// One pretraining example without padding: <c>[CLS] A [SEP]</c> or <c>[CLS] A [SEP] B [SEP]</c>.
/// Token type 0 covers the first <see cref="SegmentALength"/> ids ([CLS], A and its [SEP]); type 1 the rest.
/// </summary>
public sealed record PackedExample(int[] Ids, int SegmentALength)
{
    public int Length => Ids.Length;
    public bool IsSingleSegment => SegmentALength == Ids.Length;
}
