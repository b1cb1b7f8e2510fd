namespace Electra.Train.Data;

/// <summary>
/// Packs a document's sentences into examples the way ELECTRA's build_pretraining_dataset.py does: sentences
/// accumulate until they reach the target length; then they are dealt into segment A (about half the target) and
/// segment B at a sentence boundary. With probability 0.1 the example keeps a single segment (as classification
/// inputs do), and with probability 0.05 the next example aims at a random length in [5, T] instead of T so the
/// model also sees short inputs. A document's end closes the current example: examples never span documents.
/// </summary>
public sealed class ExampleBuilder
{
    public const double SingleSegmentProbability = 0.1;
    public const double ShortTargetProbability = 0.05;
    public const int ShortTargetMin = 5;

    private readonly int _maxLength;
    private readonly int _clsId, _sepId;
    private readonly DataRandom _random;
    private readonly List<int[]> _sentences = [];
    private int _currentLength;
    private int _targetLength;

    public ExampleBuilder(int maxLength, int clsId, int sepId, DataRandom random)
    {
        if (maxLength < ShortTargetMin) throw new ArgumentOutOfRangeException(nameof(maxLength), maxLength, $"sequence length must be at least {ShortTargetMin}");
        _maxLength = maxLength;
        _clsId = clsId;
        _sepId = sepId;
        _random = random;
        _targetLength = maxLength;
    }

    /// <summary>How often the 10% single-segment draw fired (the count of single-segment examples can be higher).</summary>
    public long SingleSegmentDraws { get; private set; }
    /// <summary>How often the 5% shorter-target draw fired.</summary>
    public long ShortTargetDraws { get; private set; }

    /// <summary>Adds a sentence's WordPiece ids; returns an example when the target length is reached.</summary>
    public PackedExample? AddSentence(IReadOnlyList<int> ids)
    {
        if (ids.Count == 0) return null;
        // Ids past T can never reach an example (a segment holds at most T − 2), so a huge sentence is cut here.
        int keep = Math.Min(ids.Count, _maxLength);
        var sentence = new int[keep];
        for (int i = 0; i < keep; i++) sentence[i] = ids[i];
        _sentences.Add(sentence);
        _currentLength += keep;
        return _currentLength >= _targetLength ? CreateExample() : null;
    }

    /// <summary>Closes the current document: whatever has accumulated becomes an example.</summary>
    public PackedExample? EndDocument() => _currentLength > 0 ? CreateExample() : null;

    private PackedExample CreateExample()
    {
        int firstTarget;
        if (_random.NextDouble() < SingleSegmentProbability)
        {
            firstTarget = int.MaxValue;
            SingleSegmentDraws++;
        }
        else
        {
            firstTarget = (_targetLength - 3) / 2; // room for [CLS] and two [SEP]
        }

        var first = new List<int>();
        var second = new List<int>();
        foreach (var sentence in _sentences)
        {
            // A sentence joins A while A is empty or it still fits; the first one that overflows A goes to A
            // half of the time, so the cut lands on either side of it. Unlike the original, once B has begun every
            // later sentence stays in B (the original could put a short later sentence back into A), so A and B
            // are each contiguous text split at one sentence boundary.
            bool toFirst = second.Count == 0 && (first.Count == 0
                || (long)first.Count + sentence.Length < firstTarget
                || (first.Count < firstTarget && _random.NextDouble() < 0.5));
            (toFirst ? first : second).AddRange(sentence);
        }

        if (second.Count == 0)
        {
            Truncate(first, _maxLength - 2);
        }
        else
        {
            // Trim the longer segment one token at a time, as BERT's truncate_seq_pair does, so both keep context.
            while (first.Count + second.Count > _maxLength - 3)
            {
                var longer = first.Count > second.Count ? first : second;
                longer.RemoveAt(longer.Count - 1);
            }
        }

        _sentences.Clear();
        _currentLength = 0;
        if (_random.NextDouble() < ShortTargetProbability)
        {
            _targetLength = _random.NextInclusive(ShortTargetMin, _maxLength);
            ShortTargetDraws++;
        }
        else
        {
            _targetLength = _maxLength;
        }

        int length = first.Count + 2 + (second.Count > 0 ? second.Count + 1 : 0);
        var ids = new int[length];
        ids[0] = _clsId;
        first.CopyTo(ids, 1);
        ids[first.Count + 1] = _sepId;
        if (second.Count > 0)
        {
            second.CopyTo(ids, first.Count + 2);
            ids[^1] = _sepId;
        }
        return new PackedExample(ids, first.Count + 2);
    }

    private static void Truncate(List<int> segment, int max)
    {
        if (segment.Count > max) segment.RemoveRange(max, segment.Count - max);
    }
}
