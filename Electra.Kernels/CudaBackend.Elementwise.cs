using Electra.Cuda.Interop;

namespace Electra.Cuda;

public sealed unsafe partial class CudaBackend
{
    private const string Elementwise = "elementwise.cu";
    private const string Reduce = "reduce.cu";

    public void Fill(Tensor dst, float value)
    {
        Own("Fill", dst);
        CudaDevice.MakeCurrent();
        if (dst.DType != DType.BF16) Profile.Memset(dst.Bytes);
        switch (dst.DType)
        {
            case DType.F32:
                Driver.Check(Driver.cuMemsetD32Async(Ptr(dst), BitConverter.SingleToUInt32Bits(value), (nuint)dst.Count, CudaDevice.Stream), "cuMemsetD32Async(Fill f32)");
                break;
            case DType.I32:
                Driver.Check(Driver.cuMemsetD32Async(Ptr(dst), unchecked((uint)(int)value), (nuint)dst.Count, CudaDevice.Stream), "cuMemsetD32Async(Fill i32)");
                break;
            case DType.BF16:
                K(Elementwise, "fill_u16").Launch1D(dst.Count, Threads, dst, (uint)BFloat16.FromFloat(value), dst.Count);
                break;
        }
    }

    public void Copy(Tensor src, Tensor dst)
    {
        Own("Copy", src, dst);
        SameCount("Copy", src, dst);
        if (src.DType == dst.DType)
        {
            CudaDevice.MakeCurrent();
            if (src.Pointer != dst.Pointer && src.Bytes > 0)
            {
                Driver.Check(Driver.cuMemcpyDtoDAsync_v2(Ptr(dst), Ptr(src), (nuint)src.Bytes, CudaDevice.Stream), "cuMemcpyDtoDAsync_v2");
                Profile.DeviceCopy(src.Bytes);
            }
        }
        else if (src.DType == DType.F32 && dst.DType == DType.BF16) K(Elementwise, "f32_to_bf16").Launch1D(src.Count, Threads, src, dst, src.Count);
        else if (src.DType == DType.BF16 && dst.DType == DType.F32) K(Elementwise, "bf16_to_f32").Launch1D(src.Count, Threads, src, dst, src.Count);
        else throw new ArgumentException($"Copy: no conversion from {src.DType.Name()} to {dst.DType.Name()}");
    }

    public void Add(Tensor a, Tensor b, Tensor dst, float alpha, float beta)
    {
        Own("Add", a, b, dst);
        string type = Activations("Add", a, b, dst);
        SameCount("Add", a, b);
        SameCount("Add", a, dst);
        K(Elementwise, "add_scaled" + type).Launch1D(a.Count, Threads, a, b, dst, alpha, beta, a.Count);
    }

    public void Scale(Tensor x, float alpha, Tensor dst)
    {
        Own("Scale", x, dst);
        string type = Activations("Scale", x, dst);
        SameCount("Scale", x, dst);
        K(Elementwise, "scale" + type).Launch1D(x.Count, Threads, x, dst, alpha, x.Count);
    }

    public void ScaleByScalar(Tensor x, Tensor scalar, float alpha, Tensor dst)
    {
        Own("ScaleByScalar", x, scalar, dst);
        string type = Activations("ScaleByScalar", x, dst);
        F32("ScaleByScalar", scalar);
        SameCount("ScaleByScalar", x, dst);
        if (scalar.Count != 1) throw new ArgumentException($"ScaleByScalar: scalar must have one element, got {scalar.Shape}");
        K(Elementwise, "scale_by_scalar" + type).Launch1D(x.Count, Threads, x, scalar, dst, alpha, x.Count);
    }

    public void NotEqual(Tensor a, Tensor b, Tensor dst)
    {
        Own("NotEqual", a, b, dst);
        SameCount("NotEqual", a, b);
        SameCount("NotEqual", a, dst);
        K(Elementwise, "not_equal_i32").Launch1D(a.Count, Threads, a, b, dst, a.Count);
    }

    public void Argmax(Tensor x, Tensor dst)
    {
        Own("Argmax", x, dst);
        int rows = (int)x.Shape.Rows, cols = x.Shape.Last;
        string type = Activations("Argmax", x);
        if (dst.Count != rows) throw new ArgumentException($"Argmax: dst {dst.Shape} needs {rows} elements");
        Require("Argmax", dst, DType.I32);
        K(Reduce, "argmax_rows" + type).Launch(((uint)rows, 1, 1), (Threads, 1, 1), 0, x, cols, dst);
    }

    public void Sum(Tensor x, Tensor dst, float scale, Tensor? scaleBy = null)
    {
        Own("Sum", x, dst, scaleBy);
        F32("Sum", x, dst);
        Scalar("Sum", scaleBy);
        if (dst.Count != 1) throw new ArgumentException($"Sum: dst must have one element, got {dst.Shape}");
        // A fixed grid for a given size: the same partition, hence the same bits, every run.
        int blocks = (int)Math.Clamp((x.Count + Threads * 8 - 1) / (Threads * 8), 1, 1024);
        using var partials = Scratch(blocks);
        K(Reduce, "sum_partial").Launch(((uint)blocks, 1, 1), (Threads, 1, 1), 0, x, x.Count, partials);
        K(Reduce, "sum_finish").Launch((1, 1, 1), (Threads, 1, 1), 0, partials, blocks, dst, scale, scaleBy);
    }

    /// <summary>A scale read on the device: one F32 element, or none.</summary>
    private static void Scalar(string op, Tensor? scaleBy)
    {
        if (scaleBy is not null && (scaleBy.DType != DType.F32 || scaleBy.Count != 1))
            throw new ArgumentException($"{op}: scaleBy must be one f32 element, got {scaleBy.Shape} {scaleBy.DType.Name()}");
    }

    public void AddBias(Tensor x, Tensor bias, Tensor y)
    {
        Own("AddBias", x, bias, y);
        string type = Activations("AddBias", x, y);
        F32("AddBias", bias);
        CheckBias("AddBias", x, bias, y);
        K(Elementwise, "add_bias" + type).Launch1D(x.Count, Threads, x, bias, y, x.Shape.Rows, x.Shape.Last);
    }

    public void SumRows(Tensor dY, Tensor dBias, float beta)
    {
        Own("SumRows", dY, dBias);
        Activations("SumRows", dY);
        F32("SumRows", dBias);
        int cols = dY.Shape.Last;
        if (dBias.Count != cols) throw new ArgumentException($"SumRows: dBias {dBias.Shape} needs {cols} elements for dY {dY.Shape}");
        ColumnSums(dY, dY.Shape.Rows, cols, dBias, beta);
    }

    /// <summary>Deterministic column sums of a [rows, cols] matrix (F32 or BF16) into F32 dst (beta·dst + Σ), in one launch.</summary>
    internal void ColumnSums(Tensor x, long rows, int cols, Tensor dst, float beta)
    {
        using var partials = ColumnSumPartials(rows, cols, out var grid);
        // The kernel reads x and writes each partial once, then reads the partials again: bytes beyond its tensors.
        long bytes = x.Bytes + 2 * partials.Bytes + (beta == 0f ? 1 : 2) * dst.Bytes;
        K(Reduce, "column_sums" + Activations("ColumnSums", x)).Launch(new LaunchCost(0, FlopRate.None, bytes), grid, (32, 8, 1), 0,
            x, rows, cols, ColumnSumRows, partials, (ulong)_columnTickets, dst, beta);
    }

    // common.cuh's column_sums_of: row blocks of 256 rows, 32-column tiles, one ticket per tile.
    private const int ColumnSumRows = 256;

    private Tensor ColumnSumPartials(long rows, int cols, out (uint X, uint Y, uint Z) grid)
    {
        int tiles = (cols + 31) / 32;
        if (tiles > ColumnTickets)
            throw new ArgumentException($"column sums: {cols} columns is more than the {ColumnTickets * 32} the ticket table serves");
        int rowBlocks = (int)Math.Max(1, (rows + ColumnSumRows - 1) / ColumnSumRows);
        grid = ((uint)tiles, (uint)rowBlocks, 1);
        return Scratch((long)rowBlocks * cols);
    }

    public void BiasGeluForward(Tensor x, Tensor bias, Tensor y)
    {
        Own("BiasGeluForward", x, bias, y);
        string type = Activations("BiasGeluForward", x, y);
        F32("BiasGeluForward", bias);
        CheckBias("BiasGeluForward", x, bias, y);
        K(Elementwise, "bias_gelu_forward" + type).Launch1D(x.Count, Threads, x, bias, y, x.Shape.Rows, x.Shape.Last);
    }

    public void BiasGeluBackward(Tensor dY, Tensor x, Tensor bias, Tensor dX, Tensor dBias)
    {
        Own("BiasGeluBackward", dY, x, bias, dX, dBias);
        string type = Activations("BiasGeluBackward", dY, x, dX);
        F32("BiasGeluBackward", bias, dBias);
        CheckBias("BiasGeluBackward", x, bias, dX);
        SameCount("BiasGeluBackward", dY, x);
        long rows = x.Shape.Rows;
        int cols = x.Shape.Last;
        // dX and its column sums (dBias) in one launch: dX is summed as it is written (the thread's own store, read
        // back from L1), so only the partials are read twice.
        using var partials = ColumnSumPartials(rows, cols, out var grid);
        long bytes = dY.Bytes + x.Bytes + dX.Bytes + bias.Bytes + 2 * partials.Bytes + dBias.Bytes;
        K(Elementwise, "bias_gelu_backward" + type).Launch(new LaunchCost(0, FlopRate.None, bytes), grid, (32, 8, 1), 0,
            dY, x, bias, dX, rows, cols, ColumnSumRows, partials, (ulong)_columnTickets, dBias);
    }

    private static void CheckBias(string op, Tensor x, Tensor bias, Tensor y)
    {
        SameCount(op, x, y);
        if (bias.Count != x.Shape.Last) throw new ArgumentException($"{op}: bias {bias.Shape} does not match the last axis of {x.Shape}");
    }

    public void Dropout(Tensor x, float p, ulong seed, ulong offset, Tensor y)
    {
        Own("Dropout", x, y);
        string type = Activations("Dropout", x, y);
        SameCount("Dropout", x, y);
        float keep = 1f / (1f - p);
        K("dropout.cu", "dropout_forward" + type).Launch1D((x.Count + 3) / 4, Threads, x, y, p, keep, seed, offset, RngBase, x.Count);
    }
}
