namespace Electra.Autograd;

/// <summary>
/// One recorded op: its inputs, the tensors it saved for backward and a closure that maps ∂loss/∂output to
/// ∂loss/∂input for each input (null where an input needs none). It may return the incoming gradient itself, or
/// one tensor for several inputs: the engine counts the uses and writes in place only into a gradient one use holds.
/// </summary>
public sealed class Node
{
    private Func<Gradient, Gradient[]>? _backward;
    private Tensor[]? _saved;

    private Node(string name, Tensor[] inputs, Func<Gradient, Gradient[]> backward, bool takesHostGradients, Tensor[]? saved)
    {
        Name = name;
        Inputs = inputs;
        _backward = backward;
        TakesHostGradients = takesHostGradients;
        _saved = saved;
    }

    public string Name { get; }
    public Tensor[] Inputs { get; private set; }

    /// <summary>Its backward reads a host-number gradient as one (<see cref="Gradient"/>); others get a filled tensor.</summary>
    internal bool TakesHostGradients { get; }

    internal bool IsReleased => _backward is null;

    /// <summary>
    /// Records <paramref name="output"/> as produced by an op, when grad mode is on and an input requires grad.
    /// <paramref name="saved"/> are tensors the op made for its own backward; they are disposed once it has run.
    /// </summary>
    public static void Record(string name, Tensor output, Tensor[] inputs, Func<Tensor, Tensor?[]> backward, params Tensor[] saved) =>
        Record(name, output, inputs, g => Array.ConvertAll(backward(g.Tensor!), t => (Gradient)t), false, saved);

    /// <summary>
    /// As <see cref="Record(string, Tensor, Tensor[], Func{Tensor, Tensor?[]}, Tensor[])"/>, for a backward that takes
    /// its upstream as a <see cref="Gradient"/>, which may be a host number, and may return host numbers (each then
    /// stands for a tensor of its input's shape filled with it).
    /// </summary>
    public static void RecordTakingHostGradients(string name, Tensor output, Tensor[] inputs, Func<Gradient, Gradient[]> backward,
        params Tensor[] saved) => Record(name, output, inputs, backward, true, saved);

    private static void Record(string name, Tensor output, Tensor[] inputs, Func<Gradient, Gradient[]> backward, bool takesHostGradients,
        Tensor[] saved)
    {
        if (!GradMode.IsEnabled || !inputs.Any(t => t.RequiresGrad))
        {
            foreach (var s in saved) s.Dispose();
            return;
        }
        output.RequiresGrad = true;
        output.GradFn = new Node(name, inputs, backward, takesHostGradients, saved.Length == 0 ? null : saved);
    }

    /// <summary>True when ops should record: grad mode is on and some input requires grad.</summary>
    public static bool ShouldRecord(params Tensor[] inputs) => GradMode.IsEnabled && inputs.Any(t => t.RequiresGrad);

    internal Gradient[] RunBackward(Gradient dOutput)
    {
        var backward = _backward ?? throw new InvalidOperationException(
            $"{Name}: backward already ran through this graph and freed it; run the forward pass again");
        var grads = backward(dOutput);
        if (grads.Length != Inputs.Length)
            throw new InvalidOperationException($"{Name}: backward returned {grads.Length} gradients for {Inputs.Length} inputs");
        return grads;
    }

    /// <summary>Frees what backward no longer needs: saved tensors, the closure and the links to inputs.</summary>
    internal void Release()
    {
        _backward = null;
        if (_saved is not null)
            foreach (var s in _saved) s.Dispose();
        _saved = null;
        Inputs = [];
    }
}
