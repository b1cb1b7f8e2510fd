namespace Electra.Train;

/// <summary>Resolves --device: "auto" takes CUDA when a device answers, else the CPU, and says why.</summary>
public static class DeviceChoice
{
    public static (Device Device, string Note) Resolve(string requested)
    {
        var r = requested.Trim().ToLowerInvariant();
        if (r == "cpu") return (Device.Cpu, "cpu (requested)");
        if (r is not ("auto" or "cuda" or "gpu") && !r.StartsWith("cuda:", StringComparison.Ordinal))
            throw new ArgumentException($"--device '{requested}': expected auto, cpu, cuda or cuda:N");
        int index = r.StartsWith("cuda:", StringComparison.Ordinal) ? Electra.Device.Parse(r).Index : 0;
        try
        {
            var backend = CudaSupport.Create(index);
            return (backend.Device, $"{backend.Device} ({CudaSupport.Describe(backend)})");
        }
        catch (Exception e) when (CudaSupport.IsUnavailable(e))
        {
            // The first line says what failed; the paths tried follow on the next lines, and `electra info` shows them.
            var reason = System.Text.RegularExpressions.Regex.Replace(e.Message.Split('\n')[0], @"[;,]?\s*paths tried:?\s*$", "").TrimEnd(':', ' ', ';');
            if (r == "auto") return (Device.Cpu, $"cpu (no CUDA: {reason})");
            throw new ArgumentException($"--device {requested}: no usable CUDA device here ({reason}); use --device cpu or auto (`electra info` lists what was tried)", e);
        }
    }
}
