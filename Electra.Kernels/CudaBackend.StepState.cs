using System.Runtime.InteropServices;
using Electra.Cuda.Interop;

namespace Electra.Cuda;

public sealed unsafe partial class CudaBackend
{
    // What changes from one training step to the next but must not be a launch argument of a captured graph, whose
    // replays repeat the arguments of the capture: the Philox base offset of the step (added to every random op's
    // offset) and AdamW's learning rate. Only a region captured with CaptureStep reads it; eager launches and plain
    // CudaGraph.Capture pass null and the full values, so their numerics do not depend on it.
    [StructLayout(LayoutKind.Sequential)]
    private struct StepState
    {
        public ulong RngBase;
        public float Lr;
        public int Pad;
    }

    private ulong _stepState; // StepState on the device, allocated on first use
    private float _stepLr = float.NaN;
    private bool _capturingStep;

    /// <summary>
    /// Captures <paramref name="region"/> as <see cref="CudaGraph.Capture"/> does, except that its random ops add the
    /// step state's RNG base to their offsets and its AdamW reads the step state's lr (which must equal the
    /// <paramref name="lr"/> it is called with here). Before each replay, <see cref="SetStepState"/> gives the step's
    /// base and lr, so a region captured at step 0's offsets draws any step's numbers.
    /// </summary>
    public CudaGraph CaptureStep(float lr, Action region)
    {
        SetStepState(0, lr);
        _capturingStep = true;
        try
        {
            return CudaGraph.Capture(this, region);
        }
        finally
        {
            _capturingStep = false;
        }
    }

    /// <summary>
    /// Queues an upload of the next replay's step state: <paramref name="rngBase"/> is added to the offset of every
    /// random op captured in a graph, and a captured AdamW reads <paramref name="lr"/>. Stream-ordered, so a replay
    /// queued after it sees it; not allowed inside a capture.
    /// </summary>
    public void SetStepState(ulong rngBase, float lr)
    {
        if (Allocator.IsCapturing)
            throw new InvalidOperationException("SetStepState inside a CUDA graph capture: set the step state before each replay");
        EnsureStepState();
        var state = new StepState { RngBase = rngBase, Lr = lr };
        lock (_copyGate) _uploads.Upload(MemoryMarshal.AsBytes(new ReadOnlySpan<StepState>(in state)), _stepState);
        _stepLr = lr;
    }

    private bool CapturingStep => _capturingStep && Allocator.IsCapturing;

    /// <summary>The step state's RNG base for a launch being queued: its device address inside CaptureStep, else null (0).</summary>
    internal ulong RngBase => CapturingStep ? _stepState : 0;

    /// <summary>The step state's learning rate for an AdamW launch inside CaptureStep, else null (0).</summary>
    private ulong CapturedLr(float lr, bool biasCorrection)
    {
        if (!CapturingStep) return 0;
        if (biasCorrection)
            throw new InvalidOperationException("AdamW with bias correction inside a CUDA graph capture: its factors depend on the step count, which a replay cannot change");
        if (BitConverter.SingleToInt32Bits(lr) != BitConverter.SingleToInt32Bits(_stepLr))
            throw new InvalidOperationException(
                $"AdamW lr {lr} inside a CUDA graph capture differs from the step state's {_stepLr}: a captured AdamW reads its lr from the step state (no per-group lr scales)");
        return _stepState + 8;
    }

    private void EnsureStepState()
    {
        if (_stepState != 0) return;
        CudaDevice.MakeCurrent();
        Driver.Check(Driver.cuMemAlloc_v2(out _stepState, (nuint)sizeof(StepState)), "cuMemAlloc_v2(step state)");
        Profile.DriverAllocation();
    }
}
