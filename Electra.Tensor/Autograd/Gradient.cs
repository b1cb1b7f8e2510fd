namespace Electra.Autograd;

/// <summary>
/// ∂loss/∂output as a backward receives or returns it: a tensor, or a number known on the host that every element
/// equals. Backward of a scalar F32 loss starts from the host 1, and a node that only scales its upstream by host
/// numbers (Add's coefficients, Scale, Sum) hands on a host number without a launch; a loss's backward then skips
/// multiplying by 1, or passes the number to the one launch it makes anyway. Only a backward recorded with
/// <see cref="Node.RecordTakingHostGradients"/> sees a host number; the engine fills a tensor for any other.
/// </summary>
public readonly struct Gradient
{
    private Gradient(Tensor? tensor, float? hostValue)
    {
        Tensor = tensor;
        HostValue = hostValue;
    }

    /// <summary>The gradient's tensor; null when it is a host number or there is no gradient.</summary>
    public Tensor? Tensor { get; }

    /// <summary>The value of every element when the gradient is known on the host; null otherwise.</summary>
    public float? HostValue { get; }

    /// <summary>Neither a tensor nor a host number: the input needs no gradient.</summary>
    public bool IsNone => Tensor is null && HostValue is null;

    public static Gradient Host(float value) => new(null, value);

    public static implicit operator Gradient(Tensor? tensor) => new(tensor, null);

    public override string ToString() => HostValue is float c ? $"host {c}" : Tensor is { } t ? $"tensor {t.Shape}" : "none";
}
