using Electra.Cuda;
using Electra.Model;
using Electra.Optim;

namespace Electra.Train;

/// <summary>
/// One training step (forward, backward, clipping, AdamW, zeroing the gradients) captured once into a CUDA graph
/// and replayed each step (`pretrain` and `bench train` with --cuda-graph on). Before a replay the step's masked
/// batch is uploaded into the captured input tensors and the backend's step state (the step's Philox base and lr) is
/// set, so every launch argument of the capture stays valid. A batch must have the captured shapes: with
/// <see cref="Pretrainer.StaticShapes"/> every batch of the run's B and T does. The graph, its inputs and its loss
/// live as long as this object.
/// </summary>
public sealed class CapturedTrainStep : IDisposable
{
    private readonly Pretrainer _model;
    private readonly AdamW _optimizer;
    private readonly CudaBackend _backend;
    private readonly Func<long, float> _lr;
    private readonly PretrainInputs _inputs;
    private readonly Tensor _loss;
    private readonly CudaGraph _graph;

    private CapturedTrainStep(Pretrainer model, AdamW optimizer, CudaBackend backend, Func<long, float> lr, PretrainInputs inputs, Tensor loss, CudaGraph graph)
    {
        (_model, _optimizer, _backend, _lr, _inputs, _loss, _graph) = (model, optimizer, backend, lr, inputs, loss, graph);
    }

    /// <summary>The device work of one replay, as captured.</summary>
    public CudaProfile.Counts Work => _graph.Work;

    /// <summary>
    /// Captures the step on <paramref name="batch"/>'s shapes (the model must have run eager steps first, so its
    /// kernels are compiled and its optimizer state exists). Returns null and the reason when it cannot be captured;
    /// the model and optimizer are then as they were, ready for eager steps.
    /// </summary>
    public static CapturedTrainStep? TryCapture(Pretrainer model, AdamW optimizer, CudaBackend backend, TokenBatch batch, long step,
        Precision precision, Func<long, float> lr, out string? reason) =>
        TryCapture(model, optimizer, backend, model.Mask(batch, step), precision, lr, 1f, out reason);

    /// <summary>
    /// Captures the step on <paramref name="batch"/>'s shapes, clipping the global gradient norm at
    /// <paramref name="clipNorm"/> (see the other overload).
    /// </summary>
    public static CapturedTrainStep? TryCapture(Pretrainer model, AdamW optimizer, CudaBackend backend, MaskedBatch batch,
        Precision precision, Func<long, float> lr, float clipNorm, out string? reason)
    {
        long step = batch.Step;
        var inputs = TensorScope.Outside(() => model.Upload(batch));
        int stepCount = optimizer.StepCount;
        Tensor? loss = null;
        try
        {
            // Captured at step 0's offsets: the kernels add the step state's base to them on each replay.
            var graph = backend.CaptureStep(lr(step), () =>
            {
                using var scope = new TensorScope();
                using var autocast = Autocast.For(precision);
                var (l, _) = model.Forward(inputs, rngStep: 0, computeMetrics: false);
                l.Backward();
                GradClip.ClipGlobalNorm(optimizer.Params, clipNorm);
                optimizer.Step(lr(step));
                model.ZeroGrad();
                loss = TensorScope.Detach(l); // ours until Dispose, whatever scope the caller has open
            });
            optimizer.StepCount = stepCount;
            reason = null;
            return new CapturedTrainStep(model, optimizer, backend, lr, inputs, loss!, graph);
        }
        catch (Exception e) when (e is CudaException or InvalidOperationException or ArgumentException)
        {
            // Nothing ran on the device; drop what the host side of the capture left behind.
            model.ZeroGrad();
            loss?.Dispose();
            inputs.Dispose();
            optimizer.StepCount = stepCount;
            reason = e.Message;
            return null;
        }
    }

    /// <summary>Queues step <paramref name="step"/>: its batch's upload, its step state, one replay.</summary>
    public void Run(TokenBatch batch, long step) => Run(_model.Mask(batch, step));

    /// <summary>
    /// Queues the step of <paramref name="batch"/> (masked for it): its upload, its step state, one replay. Throws,
    /// before queueing anything, if the batch does not have the captured shapes.
    /// </summary>
    public void Run(MaskedBatch batch)
    {
        long step = batch.Step;
        _model.Upload(batch, _inputs);
        _backend.SetStepState(checked((ulong)step * RandomStream.OffsetsPerStep), _lr(step));
        _graph.Replay();
        _optimizer.StepCount++;
    }

    /// <summary>The last replay's loss (waits for it).</summary>
    public float Loss() => _loss.Item();

    public void Dispose()
    {
        _graph.Dispose();
        _loss.Dispose();
        _inputs.Dispose();
    }
}
