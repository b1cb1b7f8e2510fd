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
        catch (Exception e) when (r == "auto" && CudaSupport.IsUnavailable(e))
        {
            return (Device.Cpu, $"cpu (no CUDA: {e.Message.Split('\n')[0].TrimEnd(':', ' ')})");
        }
    }
}
