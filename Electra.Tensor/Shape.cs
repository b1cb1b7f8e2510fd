using System.Runtime.CompilerServices;

namespace Electra;

/// <summary>An immutable list of dimensions, row-major. <c>Shape.Count</c> is the number of elements.</summary>
[CollectionBuilder(typeof(Shape), nameof(Create))]
public readonly struct Shape : IEquatable<Shape>
{
    public static Shape Create(ReadOnlySpan<int> dims) => new(dims.ToArray());

    public ReadOnlySpan<int>.Enumerator GetEnumerator() => Dims.GetEnumerator();

    private readonly int[]? _dims;

    public Shape(params int[] dims)
    {
        foreach (var d in dims)
            if (d < 0) throw new ArgumentException($"shape [{string.Join(", ", dims)}] has a negative dimension");
        _dims = (int[])dims.Clone();
    }

    public int Rank => _dims?.Length ?? 0;
    public int this[int axis] => axis < 0 ? Dims[Rank + axis] : Dims[axis];
    public ReadOnlySpan<int> Dims => _dims ?? [];

    public long Count
    {
        get
        {
            long n = 1;
            foreach (var d in Dims) n *= d;
            return n;
        }
    }

    /// <summary>Number of elements in the last axis (1 for a scalar).</summary>
    public int Last => Rank == 0 ? 1 : Dims[^1];

    /// <summary>Product of all axes but the last: the number of rows when the tensor is read as a matrix.</summary>
    public long Rows => Rank == 0 ? 1 : Count / Math.Max(1, Last);

    public int[] ToArray() => Dims.ToArray();

    public bool Equals(Shape other) => Dims.SequenceEqual(other.Dims);
    public override bool Equals(object? obj) => obj is Shape s && Equals(s);
    public override int GetHashCode()
    {
        var h = new HashCode();
        foreach (var d in Dims) h.Add(d);
        return h.ToHashCode();
    }

    public static bool operator ==(Shape a, Shape b) => a.Equals(b);
    public static bool operator !=(Shape a, Shape b) => !a.Equals(b);
    public static implicit operator Shape(int[] dims) => new(dims);

    public override string ToString() => $"[{string.Join(", ", _dims ?? [])}]";
}
