namespace Electra;

/// <summary>
/// The coarse primitives every device implements. Arguments run "sources, arguments, destination"; destinations
/// are allocated by the caller (usually an op in <see cref="Ops"/>) and have the documented shape. Layouts are
/// given in brackets: B batch, T sequence, NH heads, HS head size, H = NH·HS, M selected rows, V vocabulary.
/// Random draws come from Philox4x32-10 addressed by (seed, offset, element index): see <see cref="Philox"/>.
/// The CPU backend is the executable specification of every method, in F32.
/// Mixed precision (CUDA): activations and their gradients may be BF16 storage — element-wise ops, bias and
/// bias+GELU, dropout, LayerNorm, attention, embedding rows, row gather/scatter, argmax and the softmax-CE logits
/// take F32 or BF16 (one dtype per call) and compute in F32, rounding once on store. Parameters, their gradients,
/// optimizer state, LayerNorm mean/rstd, the attention log-sum-exp, losses and every reduction's result are F32.
/// </summary>
public interface IBackend
{
    Device Device { get; }

    /// <summary>Uninitialised memory for <paramref name="bytes"/> bytes.</summary>
    Storage Allocate(long bytes);

    void CopyFromHost(ReadOnlySpan<byte> source, Tensor destination);
    void CopyToHost(Tensor source, Span<byte> destination);

    /// <summary>Waits for queued work (a no-op on the CPU).</summary>
    void Synchronize();

    // ---- element-wise -------------------------------------------------------------------------------------------

    /// <summary>dst = value (F32, I32: value is cast; BF16: rounded).</summary>
    void Fill(Tensor dst, float value);

    /// <summary>dst = src, same dtype and element count; converts between F32 and BF16 when they differ.</summary>
    void Copy(Tensor src, Tensor dst);

    /// <summary>dst = alpha·a + beta·b (F32, same element count; dst may alias a or b).</summary>
    void Add(Tensor a, Tensor b, Tensor dst, float alpha, float beta);

    /// <summary>dst = alpha·x (dst may alias x).</summary>
    void Scale(Tensor x, float alpha, Tensor dst);

    /// <summary>dst = alpha·s·x where s is the one element of <paramref name="scalar"/> (read on the device).</summary>
    void ScaleByScalar(Tensor x, Tensor scalar, float alpha, Tensor dst);

    /// <summary>dst = (a ≠ b) ? 1 : 0 as F32; a, b are I32 of equal count. Makes replaced-token labels.</summary>
    void NotEqual(Tensor a, Tensor b, Tensor dst);

    /// <summary>dst[i] = argmax over the last axis of x (ties: lowest index). x [R, C] F32 → dst [R] I32.</summary>
    void Argmax(Tensor x, Tensor dst);

    /// <summary>
    /// dst = scale · Σ x over all elements, written to a one-element F32 tensor; times the one element of
    /// <paramref name="scaleBy"/> when given (a mean whose count is kept on the device).
    /// </summary>
    void Sum(Tensor x, Tensor dst, float scale, Tensor? scaleBy = null);

    // ---- matrix products ----------------------------------------------------------------------------------------

    /// <summary>
    /// C = alpha·op(A)·op(B) + beta·C. Rank 2 ([M,K]·[K,N]) or rank 3 with a leading batch shared by A, B and C.
    /// op(A) = Aᵀ when <paramref name="transA"/> (A is then stored [K, M]); likewise for B ([N, K]).
    /// </summary>
    void Gemm(Tensor a, bool transA, Tensor b, bool transB, Tensor c, float alpha = 1f, float beta = 0f);

    /// <summary>y[r, :] = x[r, :] + bias. x, y [R, C]; bias [C]. y may alias x.</summary>
    void AddBias(Tensor x, Tensor bias, Tensor y);

    /// <summary>dBias = Σ_r dY[r, :] + beta·dBias. dY [R, C]; dBias [C].</summary>
    void SumRows(Tensor dY, Tensor dBias, float beta);

    /// <summary>y = GELU(x + bias), exact (erf) GELU. x, y [R, C]; bias [C].</summary>
    void BiasGeluForward(Tensor x, Tensor bias, Tensor y);

    /// <summary>dX = dY ∘ GELU′(x + bias); dBias = Σ_r dX (overwritten). Shapes as in the forward.</summary>
    void BiasGeluBackward(Tensor dY, Tensor x, Tensor bias, Tensor dX, Tensor dBias);

    // ---- layer norm ---------------------------------------------------------------------------------------------

    /// <summary>
    /// s = u + residual (when residual is given; else s = u) with u = dropout(x + bias) as <paramref name="input"/>
    /// says (u = x by default); y = (s − mean)·rstd·γ + β over the last axis. Writes y [R, C], mean [R], rstd [R],
    /// and s [R, C] when <paramref name="sum"/> is given (backward needs it; it must be given when u ≠ x).
    /// </summary>
    void LayerNormForward(Tensor x, Tensor? residual, Tensor gamma, Tensor beta, float eps, Tensor y, Tensor mean, Tensor rstd, Tensor? sum,
        LayerNormInput input = default);

    /// <summary>
    /// From dY and the saved s, mean, rstd: dS (written), dγ and dβ (overwritten; a deterministic reduction).
    /// dS is the gradient of the residual, and of x when the forward's input was x itself. Otherwise, when given,
    /// dX = the input dropout applied to dS (the same mask), and dBias = Σ_r dX. With <paramref name="addToParams"/>
    /// dγ and dβ are added to what dGamma and dBeta hold (a shared norm's earlier use) instead of overwriting them.
    /// </summary>
    void LayerNormBackward(Tensor dY, Tensor sum, Tensor gamma, Tensor mean, Tensor rstd, Tensor dS, Tensor dGamma, Tensor dBeta,
        LayerNormInput input = default, Tensor? dX = null, Tensor? dBias = null, bool addToParams = false);

    // ---- attention ----------------------------------------------------------------------------------------------

    /// <summary>
    /// Multi-head self-attention straight from the fused projection. qkv [B, T, 3, NH, HS]; keyMask [B, T] I32
    /// (1 real, 0 padding: padding keys get no weight); out [B, T, NH, HS]; lse [B, NH, T] the log-sum-exp of each
    /// row of scaled scores. Dropout p on the probabilities, mask from Philox(seed, offset) at element
    /// ((b·NH + h)·T + i)·T + j, kept entries scaled by 1/(1−p). With <paramref name="qkvBias"/> [3·NH·HS] F32 the
    /// attention is that of qkv + qkvBias, each sum rounded to qkv's dtype as <see cref="AddBias"/> stores it: the
    /// projection's bias is added as Q, K and V are read, with no pass (and no biased copy) of its own.
    /// </summary>
    void AttentionForward(Tensor qkv, Tensor keyMask, int heads, float scale, float dropout, ulong seed, ulong offset, Tensor output, Tensor lse,
        Tensor? qkvBias = null);

    /// <summary>
    /// Gradient of <see cref="AttentionForward"/> with respect to qkv, recomputing the probabilities; qkvBias as the
    /// forward had it. When given, dQkvBias [3·NH·HS] F32 = Σ over rows of dQkv (as stored): the bias gradient.
    /// </summary>
    void AttentionBackward(Tensor dOutput, Tensor qkv, Tensor keyMask, Tensor output, Tensor lse, int heads, float scale, float dropout, ulong seed, ulong offset, Tensor dQkv,
        Tensor? qkvBias = null, Tensor? dQkvBias = null);

    // ---- losses and sampling ------------------------------------------------------------------------------------

    /// <summary>
    /// Softmax cross-entropy of logits [M, V] against targets [M] I32. Rows whose target is
    /// <paramref name="ignoreIndex"/> get loss 0 and gradient 0. Writes the per-row loss into losses [M]; when
    /// <paramref name="dLogits"/> is given (it may be the logits tensor itself: the gradient then replaces the
    /// logits) writes (softmax − onehot)·gradScale. When <paramref name="samples"/> is given, the same read also
    /// draws argmax(logits/temperature + Gumbel) per row, exactly as <see cref="GumbelSample"/> would.
    /// For a step whose shapes are fixed (a CUDA graph's), <paramref name="validRows"/> (I32 [1], on the device) says
    /// how many leading rows are real: the rest are padding, not read, with loss 0, gradient 0 and their target as
    /// their sample; and the gradient scale is gradScale times the one element of <paramref name="scaleBy"/>.
    /// </summary>
    void SoftmaxCrossEntropy(Tensor logits, Tensor targets, int ignoreIndex, Tensor losses, Tensor? dLogits, float gradScale,
        Tensor? samples, float temperature, ulong seed, ulong offset, Tensor? validRows = null, Tensor? scaleBy = null);

    /// <summary>
    /// samples[r] = argmax_c(logits[r, c]/temperature + g), g = −log(−log u), u from Philox(seed, offset, r·V + c),
    /// ties broken by the lower index; column disallowed[r] (if given and ≥ 0) is never chosen.
    /// </summary>
    void GumbelSample(Tensor logits, float temperature, ulong seed, ulong offset, Tensor? disallowed, Tensor samples);

    /// <summary>
    /// BCE-with-logits of logits [N] against labels [N] (F32, 0 or 1), weighted by weights [N]:
    /// losses[i] = w·(softplus(x) − y·x); dLogits[i] = (σ(x) − y)·w·gradScale, times the one element of
    /// <paramref name="scaleBy"/> when given.
    /// </summary>
    void BceWithLogits(Tensor logits, Tensor labels, Tensor weights, Tensor losses, Tensor dLogits, float gradScale, Tensor? scaleBy = null);

    // ---- embeddings, rows, dropout ------------------------------------------------------------------------------

    /// <summary>output[r, :] = table[ids[r], :]. table [V, E]; ids [R] I32; output [R, E]. Ids are range-checked.</summary>
    void EmbeddingForward(Tensor table, Tensor ids, Tensor output);

    /// <summary>dTable[ids[r], :] += dOutput[r, :] (deterministic order).</summary>
    void EmbeddingBackward(Tensor dOutput, Tensor ids, Tensor dTable);

    /// <summary>
    /// output[b·T + t, :] = word[ids[b, t], :] + position[t, :] + type[typeIds[b, t], :], added in that order in F32 and
    /// rounded once to the output's dtype. ids, typeIds [B, T] I32; tables [V, E], [P ≥ T, E], [K, E] F32;
    /// output [B·T, E]. Ids and type ids are range-checked.
    /// </summary>
    void EmbeddingSumForward(Tensor word, Tensor position, Tensor type, Tensor ids, Tensor typeIds, Tensor output);

    /// <summary>
    /// The table gradients of <see cref="EmbeddingSumForward"/> from dOutput [B·T, E]: dWord[v] = Σ dOutput[r] over the
    /// positions r with ids[r] = v, except v = <paramref name="padId"/> (no gradient; −1: none); dPosition[t] =
    /// Σ_b dOutput[b·T + t] (rows t ≥ T: none); dType[k] = Σ dOutput[r] over typeIds[r] = k. Each is written, or added
    /// to what the tensor holds when <paramref name="accumulate"/>. Deterministic: the same inputs give the same bits.
    /// </summary>
    void EmbeddingSumBackward(Tensor dOutput, Tensor ids, Tensor typeIds, int padId, Tensor dWord, Tensor dPosition, Tensor dType, bool accumulate);

    /// <summary>dst[m, :] = src[indices[m], :]. src [R, C]; indices [M] I32; dst [M, C]. Any dtype (raw elements).</summary>
    void GatherRows(Tensor src, Tensor indices, Tensor dst);

    /// <summary>dst[indices[m], :] = src[m, :] (or += when <paramref name="accumulate"/>). Indices must be distinct.</summary>
    void ScatterRows(Tensor src, Tensor indices, Tensor dst, bool accumulate);

    /// <summary>y = x·keep/(1−p), keep = (u ≥ p) with u from Philox(seed, offset, i). Backward is the same call on dY.</summary>
    void Dropout(Tensor x, float p, ulong seed, ulong offset, Tensor y);

    // ---- optimizer ----------------------------------------------------------------------------------------------

    /// <summary>
    /// One Adam step with decoupled weight decay over every parameter at once:
    /// m = β1·m + (1−β1)·g; v = β2·v + (1−β2)·g²; with bias correction m̂ = m/(1−β1^step), v̂ = v/(1−β2^step),
    /// else m̂ = m, v̂ = v; p −= lr·(m̂/(√v̂ + ε) + wd·p); then a slot's bf16 copy (if any) = p rounded to nearest even.
    /// </summary>
    void AdamW(IReadOnlyList<AdamWSlot> slots, float lr, float beta1, float beta2, float eps, int step, bool biasCorrection);

    /// <summary>norm = √(Σ over all tensors of Σ g²), written to a one-element F32 tensor.</summary>
    void GlobalNorm(IReadOnlyList<Tensor> tensors, Tensor norm);

    /// <summary>Scales every tensor by maxNorm / max(norm, maxNorm), reading norm from device memory.</summary>
    void ClipByNorm(IReadOnlyList<Tensor> tensors, Tensor norm, float maxNorm);
}

/// <summary>
/// What LayerNorm applies to its input before the residual add: u = dropout(x + bias), with the dropout rule of
/// <see cref="IBackend.Dropout"/> (keep element i of [R, C] iff Philox.Uniform(seed, offset, i) ≥ p). A dense
/// layer's bias and the hidden dropout then cost no pass of their own. The default is u = x.
/// </summary>
public readonly record struct LayerNormInput(Tensor? Bias, float Dropout, ulong Seed, ulong Offset)
{
    public bool IsIdentity => Bias is null && Dropout == 0f;
}

/// <summary>
/// One parameter's view for the fused optimizer step. <paramref name="Bf16Copy"/>, when given, is the parameter's
/// bf16 copy (the GEMM operand of the mixed-precision step): the same pass writes it from the updated F32 value.
/// </summary>
public readonly record struct AdamWSlot(Tensor Param, Tensor Grad, Tensor M, Tensor V, float WeightDecay, Tensor? Bf16Copy = null);
