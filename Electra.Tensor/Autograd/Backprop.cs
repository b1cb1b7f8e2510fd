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

        var refs = new GradientRefs();
        // A scalar loss starts from the host 1, which no launch has to make (Gradient).
        Gradient rootGrad = seed is null ? Gradient.Host(1f) : Ops.Copy(seed);
        if (rootGrad.Tensor is { } seedCopy) refs.Retain(seedCopy);
        rootGrad = Placed(rootGrad, root, refs);
        if (root.IsLeaf)
        {
            Accumulate(root, rootGrad.Tensor!, refs);
            return;
        }

        var order = TopologicalOrder(root.GradFn!);
        var pending = new Dictionary<Node, Gradient>(ReferenceEqualityComparer.Instance) { [root.GradFn!] = rootGrad };
        using var noGrad = GradMode.NoGrad();
        var observer = BackwardObserver.Current;
        foreach (var node in order)
        {
            if (!pending.Remove(node, out var g)) { node.Release(); continue; }
            var inputs = node.Inputs;
            var offered = Offers(inputs, pending, refs);
            Gradient[] grads;
            using (GradAccumulation.Offer(inputs, offered)) grads = node.RunBackward(g);
            var dropped = new List<Tensor>();
            // Every use of a gradient holds a reference, so one tensor may flow to several inputs (LayerNorm's x and
            // residual; an op passing its incoming gradient through) without a copy.
            for (int i = 0; i < inputs.Length; i++)
            {
                if (grads[i].IsNone) continue;
                if (!inputs[i].RequiresGrad)
                {
                    if (grads[i].Tensor is { } unused) dropped.Add(unused);
                    grads[i] = default;
                    continue;
                }
                if (grads[i].Tensor is not { } dIn) { grads[i] = Placed(grads[i], inputs[i], refs); continue; }
                // Added into the pending gradient, which keeps its one reference in pending.
                if (offered[i] is { } target && ReferenceEquals(dIn, target)) { grads[i] = default; continue; }
                if (dIn.Shape != inputs[i].Shape)
                    throw new InvalidOperationException($"{node.Name}: gradient {dIn.Shape} for input {i} does not match its shape {inputs[i].Shape}");
                // A gradient has its tensor's dtype: F32 for parameters (master weights), BF16 for bf16 activations.
                if (dIn.DType != inputs[i].DType)
                    throw new InvalidOperationException($"{node.Name}: gradient {dIn.DType.Name()} for input {i} does not match its dtype {inputs[i].DType.Name()}");
                refs.Retain(dIn);
            }
            if (g.Tensor is { } gTensor) refs.Release(gTensor);
            refs.DisposeUnused(dropped);
            // Released first, so a gradient that views a buffer the node saved (BCE's) is that memory's sole owner.
            node.Release();
            for (int i = 0; i < inputs.Length; i++)
            {
                if (grads[i].IsNone) continue;
                if (inputs[i].GradFn is { } producer)
                {
                    if (pending.TryGetValue(producer, out var acc)) pending[producer] = Sum(acc, grads[i], inputs[i], refs);
                    else pending[producer] = grads[i];
                }
                else
                {
                    Accumulate(inputs[i], grads[i].Tensor!, refs);
                }
            }
            observer?.Invoke(node.Name);
        }
        root.GradFn = null;
    }

    /// <summary>
    /// A host number stays one only on its way to a backward that reads it as one, and only for F32, whose host
    /// arithmetic is the device's; for a leaf, a BF16 tensor or any other producer it becomes a filled tensor here.
    /// </summary>
    private static Gradient Placed(Gradient g, Tensor input, GradientRefs refs)
    {
        if (g.HostValue is not float c || input is { DType: DType.F32, GradFn.TakesHostGradients: true }) return g;
        return Filled(g, input, refs);
    }

    /// <summary>
    /// For each input, the gradient already pending for its producer when nothing else holds it, or for a leaf the
    /// gradient it already has (a tied weight's earlier use, or an earlier backward pass), which the node's backward
    /// may add into (<see cref="GradAccumulation"/>); null where there is none or the input occurs twice.
    /// </summary>
    private static Tensor?[] Offers(Tensor[] inputs, Dictionary<Node, Gradient> pending, GradientRefs refs)
    {
        var offered = new Tensor?[inputs.Length];
        for (int i = 0; i < inputs.Length; i++)
        {
            var input = inputs[i];
            if (!input.RequiresGrad || inputs.Count(t => ReferenceEquals(t, input)) > 1) continue;
            Tensor? acc;
            if (input.GradFn is { } producer)
            {
                if (!pending.TryGetValue(producer, out var pendingGrad) || pendingGrad.Tensor is null || !refs.IsSoleUse(pendingGrad.Tensor)) continue;
                acc = pendingGrad.Tensor;
            }
            else
            {
                acc = input.Grad; // the leaf's own: no gradient in flight shares its memory (Accumulate copies when one would)
            }
            if (acc is null || acc.Shape != input.Shape || acc.DType != input.DType) continue;
            offered[i] = acc;
        }
        return offered;
    }

    /// <summary>acc + dIn for <paramref name="input"/>: on the host while both are host numbers, else as tensors.</summary>
    private static Gradient Sum(Gradient acc, Gradient dIn, Tensor input, GradientRefs refs)
    {
        if (acc.HostValue is float a && dIn.HostValue is float b) return Gradient.Host(a + b);
        return Sum(Filled(acc, input, refs), Filled(dIn, input, refs), refs);
    }

    private static Tensor Filled(Gradient g, Tensor input, GradientRefs refs)
    {
        if (g.Tensor is { } t) return t;
        var filled = Tensor.Full(input.Shape, g.HostValue!.Value, input.DType, input.Device);
        refs.Retain(filled);
        return filled;
    }

    /// <summary>acc + dIn, in place when no other use holds acc; both references are given up, the sum's is returned.</summary>
    private static Tensor Sum(Tensor acc, Tensor dIn, GradientRefs refs)
    {
        if (refs.IsSoleUse(acc))
        {
            AddInto(acc, dIn);
            refs.Release(dIn);
            return acc;
        }
        var sum = Tensor.Empty(acc.Shape, acc.DType, acc.Device);
        acc.Backend.Add(acc, dIn, sum, 1f, 1f);
        refs.Release(acc);
        refs.Release(dIn);
        refs.Retain(sum);
        return sum;
    }

    /// <summary>Leaves keep their gradient across steps: it leaves every scope and belongs to the leaf.</summary>
    private static void Accumulate(Tensor leaf, Tensor dLeaf, GradientRefs refs)
    {
        if (leaf.Grad is not null)
        {
            AddInto(leaf.Grad, dLeaf);
            refs.Release(dLeaf);
        }
        else if (refs.IsSoleUse(dLeaf))
        {
            refs.Forget(dLeaf);
            leaf.Grad = TensorScope.Detach(dLeaf);
        }
        else
        {
            leaf.Grad = TensorScope.Detach(Ops.Copy(dLeaf)); // the leaf's gradient is written in place later
            refs.Release(dLeaf);
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

/// <summary>
/// Reference counts of the gradients in flight during one backward pass: a gradient is written in place only by
/// its sole holder, and disposed when its last use is done.
/// </summary>
internal sealed class GradientRefs
{
    private readonly Dictionary<Tensor, int> _counts = new(ReferenceEqualityComparer.Instance);

    public void Retain(Tensor t) => _counts[t] = _counts.GetValueOrDefault(t) + 1;

    /// <summary>One use holds the tensor and no view shares its memory (Reshape's backward returns a view of g).</summary>
    public bool IsSoleUse(Tensor t) => _counts.GetValueOrDefault(t) == 1 && t.Storage.HasOneOwner;

    public void Release(Tensor t)
    {
        int n = _counts.GetValueOrDefault(t) - 1;
        if (n > 0) { _counts[t] = n; return; }
        _counts.Remove(t);
        t.Dispose();
    }

    /// <summary>The tensor now belongs to someone else (a leaf's Grad).</summary>
    public void Forget(Tensor t) => _counts.Remove(t);

    /// <summary>Disposes the gradients a backward returned that no use took (inputs that need none).</summary>
    public void DisposeUnused(IEnumerable<Tensor> returned)
    {
        foreach (var t in returned)
            if (!_counts.ContainsKey(t)) t.Dispose();
    }
}
