namespace Electra.Autograd;

/// <summary>Reverse-mode differentiation over the recorded nodes, in reverse topological order.</summary>
internal static class Backprop
{
    public static void Run(Tensor root, Tensor? seed)
    {
        root.ThrowIfDisposed();
        if (!root.RequiresGrad)
            throw new InvalidOperationException($"Backward: tensor {root.Shape} does not require grad (no parameter took part in computing it)");
        if (seed is null && root.Count != 1)
            throw new InvalidOperationException(
                $"Backward: tensor {root.Shape} is not a scalar; pass a seed gradient of the same shape (∂loss/∂tensor)");
        if (seed is not null && seed.Shape != root.Shape)
            throw new ArgumentException($"Backward: seed shape {seed.Shape} does not match tensor shape {root.Shape}");

        var rootGrad = seed is null ? Tensor.Ones(root.Shape, root.DType, root.Device) : Ops.Copy(seed);
        if (root.IsLeaf)
        {
            Accumulate(root, rootGrad);
            return;
        }

        var order = TopologicalOrder(root.GradFn!);
        var pending = new Dictionary<Node, Tensor>(ReferenceEqualityComparer.Instance) { [root.GradFn!] = rootGrad };
        using var noGrad = GradMode.NoGrad();
        var observer = BackwardObserver.Current;
        foreach (var node in order)
        {
            if (!pending.Remove(node, out var g)) { node.Release(); continue; }
            var inputs = node.Inputs;
            var grads = node.RunBackward(g);
            for (int i = 0; i < inputs.Length; i++)
            {
                var dIn = grads[i];
                var input = inputs[i];
                if (dIn is null || !input.RequiresGrad) { dIn?.Dispose(); continue; }
                if (ReferenceEquals(dIn, g) || grads.Take(i).Any(o => ReferenceEquals(o, dIn)))
                    dIn = Ops.Copy(dIn); // an op passed a gradient through; never accumulate into a shared buffer
                if (dIn.Shape != input.Shape)
                    throw new InvalidOperationException($"{node.Name}: gradient {dIn.Shape} for input {i} does not match its shape {input.Shape}");
                // A gradient has its tensor's dtype: F32 for parameters (master weights), BF16 for bf16 activations.
                if (dIn.DType != input.DType)
                    throw new InvalidOperationException($"{node.Name}: gradient {dIn.DType.Name()} for input {i} does not match its dtype {input.DType.Name()}");
                if (input.GradFn is { } producer)
                {
                    if (pending.TryGetValue(producer, out var acc)) { AddInto(acc, dIn); dIn.Dispose(); }
                    else pending[producer] = dIn;
                }
                else
                {
                    Accumulate(input, dIn);
                }
            }
            g.Dispose();
            node.Release();
            observer?.Invoke(node.Name);
        }
        root.GradFn = null;
    }

    /// <summary>Leaves keep their gradient across steps: it leaves every scope and belongs to the leaf.</summary>
    private static void Accumulate(Tensor leaf, Tensor dLeaf)
    {
        if (leaf.Grad is null)
        {
            leaf.Grad = TensorScope.Detach(dLeaf);
        }
        else
        {
            AddInto(leaf.Grad, dLeaf);
            dLeaf.Dispose();
        }
    }

    private static void AddInto(Tensor acc, Tensor x) => acc.Backend.Add(acc, x, acc, 1f, 1f);

    private static List<Node> TopologicalOrder(Node root)
    {
        // Iterative post-order DFS; reversing it gives each node before everything it depends on.
        var order = new List<Node>();
        var visited = new HashSet<Node>(ReferenceEqualityComparer.Instance);
        var stack = new Stack<(Node node, int next)>();
        stack.Push((root, 0));
        visited.Add(root);
        while (stack.Count > 0)
        {
            var (node, next) = stack.Pop();
            if (node.IsReleased)
                throw new InvalidOperationException($"{node.Name}: backward already ran through this graph and freed it; run the forward pass again");
            if (next < node.Inputs.Length)
            {
                stack.Push((node, next + 1));
                var producer = node.Inputs[next].GradFn;
                if (producer is not null && visited.Add(producer)) stack.Push((producer, 0));
            }
            else
            {
                order.Add(node);
            }
        }
        order.Reverse();
        return order;
    }
}
