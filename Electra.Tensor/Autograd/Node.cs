namespace Electra.Autograd;

/// <summary>
/// One recorded op: its inputs, the tensors it saved for backward and a closure that maps ∂loss/∂output to
/// ∂loss/∂input for each input (null where an input needs none). It may return the incoming gradient itself, or
/// one tensor for several inputs: the engine counts the uses and writes in place only into a gradient one use holds.
/// </summary>
public sealed class Node
{
    private Func<Tensor, Tensor?[]>? _backward;
    private Tensor[]? _saved;

    private Node(string name, Tensor[] inputs, Func<Tensor, Tensor?[]> backward, Tensor[]? saved)
    {
        Name = name;
        Inputs = inputs;
        _backward = backward;
        _saved = saved;
    }

    public string Name { get; }
    public Tensor[] Inputs { get; private set; }

    internal bool IsReleased => _backward is null;

    /// <summary>
    /// Records <paramref name="output"/> as produced by an op, when grad mode is on and an input requires grad.
    /// <paramref name="saved"/> are tensors the op made for its own backward; they are disposed once it has run.
    /// </summary>
    public static void Record(string name, Tensor output, Tensor[] inputs, Func<Tensor, Tensor?[]> backward, params Tensor[] saved)
    {
        if (!GradMode.IsEnabled || !inputs.Any(t => t.RequiresGrad))
        {
            foreach (var s in saved) s.Dispose();
            return;
        }
        output.RequiresGrad = true;
        output.GradFn = new Node(name, inputs, backward, saved.Length == 0 ? null : saved);
    }

    /// <summary>True when ops should record: grad mode is on and some input requires grad.</summary>
    public static bool ShouldRecord(params Tensor[] inputs) => GradMode.IsEnabled && inputs.Any(t => t.RequiresGrad);

    internal Tensor?[] RunBackward(Tensor dOutput)
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
