namespace Electra.Cuda;

/// <summary>Which arithmetic unit a launch's FLOPs run on, for the modelled time.</summary>
public enum FlopRate
{
    /// <summary>No arithmetic worth modelling: the launch is bound by its bytes.</summary>
    None,

    /// <summary>FP32 on CUDA cores.</summary>
    Fp32,

    /// <summary>TF32 on tensor cores (F32 GEMMs with TF32 allowed).</summary>
    Tf32,

    /// <summary>BF16 on tensor cores, F32 accumulation.</summary>
    Bf16,
}

/// <summary>What one launch site moves and computes, declared from the shapes it has already checked.</summary>
public readonly record struct LaunchCost(double Flops, FlopRate Rate, long? Bytes = null)
{
    public static LaunchCost Of(double flops, FlopRate rate) => new(flops, rate);
}

/// <summary>
/// A first-order model of one H100 (SXM) running a launch: max(bytes / bandwidth, FLOPs / rate) plus a fixed cost
/// per launch. It ranks changes on a machine without a GPU; it is not a measurement. The constants and why they were
/// chosen are in kernels-cu/README.md ("The modelled time"); the first device run checks them.
/// </summary>
public static class DeviceModel
{
    public const double BytesPerSecond = 3.0e12;
    public const double LaunchSeconds = 2e-6;

    public static double FlopsPerSecond(FlopRate rate) => rate switch
    {
        FlopRate.Fp32 => 60e12,
        FlopRate.Tf32 => 400e12,
        FlopRate.Bf16 => 800e12,
        _ => double.PositiveInfinity,
    };

    public static double Seconds(long bytes, double flops, FlopRate rate) =>
        Math.Max(bytes / BytesPerSecond, flops / FlopsPerSecond(rate)) + LaunchSeconds;
}

/// <summary>
/// Counts what the host asks of one device since it was opened: kernel launches (by kernel), cuBLAS calls, graph
/// replays, memsets and device copies, host synchronisations (explicit ones and those a synchronous copy implies),
/// allocations and frees that reach the driver (pool hits do not), bytes copied each way, and the modelled time of
/// the device work. Counted where the calls are made, so the numbers are as true on a GPU as under the simulator.
/// Work recorded during a graph capture executes nothing: it is moved into the graph and counted at each replay.
/// </summary>
public sealed class CudaProfile
{
    private readonly Lock _gate = new();
    private Counts _total = new();
    private Counts? _capturing;

    /// <summary>One set of counters; <see cref="Minus"/> gives what happened between two snapshots.</summary>
    public sealed record Counts
    {
        public long KernelLaunches { get; set; }
        public long CublasCalls { get; set; }
        public long GraphLaunches { get; set; }
        public long Memsets { get; set; }
        public long DeviceCopies { get; set; }
        public long HostSyncs { get; set; }
        public long DriverAllocations { get; set; }
        public long DriverFrees { get; set; }
        public long Uploads { get; set; }
        public long BytesUploaded { get; set; }
        public long Downloads { get; set; }
        public long BytesDownloaded { get; set; }
        public long ModelledBytes { get; set; }
        public double ModelledFlops { get; set; }
        public double ModelledSeconds { get; set; }
        public Dictionary<string, long> LaunchesByKernel { get; init; } = new();

        /// <summary>Modelled seconds by kernel, with cuBLAS, device copies and memsets under their own names.</summary>
        public Dictionary<string, double> ModelledSecondsBySite { get; init; } = new();

        public Counts Copy() => this with
        {
            LaunchesByKernel = new Dictionary<string, long>(LaunchesByKernel),
            ModelledSecondsBySite = new Dictionary<string, double>(ModelledSecondsBySite),
        };

        public Counts Minus(Counts earlier)
        {
            var byKernel = new Dictionary<string, long>();
            foreach (var (k, n) in LaunchesByKernel)
            {
                long d = n - earlier.LaunchesByKernel.GetValueOrDefault(k);
                if (d != 0) byKernel[k] = d;
            }
            var bySite = new Dictionary<string, double>();
            foreach (var (k, sec) in ModelledSecondsBySite)
            {
                double d = sec - earlier.ModelledSecondsBySite.GetValueOrDefault(k);
                if (d != 0) bySite[k] = d;
            }
            return new Counts
            {
                KernelLaunches = KernelLaunches - earlier.KernelLaunches, CublasCalls = CublasCalls - earlier.CublasCalls,
                GraphLaunches = GraphLaunches - earlier.GraphLaunches, Memsets = Memsets - earlier.Memsets,
                DeviceCopies = DeviceCopies - earlier.DeviceCopies, HostSyncs = HostSyncs - earlier.HostSyncs,
                DriverAllocations = DriverAllocations - earlier.DriverAllocations, DriverFrees = DriverFrees - earlier.DriverFrees,
                Uploads = Uploads - earlier.Uploads, BytesUploaded = BytesUploaded - earlier.BytesUploaded,
                Downloads = Downloads - earlier.Downloads, BytesDownloaded = BytesDownloaded - earlier.BytesDownloaded,
                ModelledBytes = ModelledBytes - earlier.ModelledBytes, ModelledFlops = ModelledFlops - earlier.ModelledFlops,
                ModelledSeconds = ModelledSeconds - earlier.ModelledSeconds, LaunchesByKernel = byKernel, ModelledSecondsBySite = bySite,
            };
        }

        /// <summary>Adds what a replayed graph does (its kernels, GEMMs, copies) to these counts.</summary>
        internal void AddWork(Counts graph)
        {
            KernelLaunches += graph.KernelLaunches;
            CublasCalls += graph.CublasCalls;
            Memsets += graph.Memsets;
            DeviceCopies += graph.DeviceCopies;
            ModelledBytes += graph.ModelledBytes;
            ModelledFlops += graph.ModelledFlops;
            ModelledSeconds += graph.ModelledSeconds;
            foreach (var (k, n) in graph.LaunchesByKernel) LaunchesByKernel[k] = LaunchesByKernel.GetValueOrDefault(k) + n;
            foreach (var (k, sec) in graph.ModelledSecondsBySite) ModelledSecondsBySite[k] = ModelledSecondsBySite.GetValueOrDefault(k) + sec;
        }
    }

    /// <summary>The counts so far (a copy).</summary>
    public Counts Snapshot()
    {
        lock (_gate) return _total.Copy();
    }

    internal void Kernel(string name, long bytes, LaunchCost cost)
    {
        lock (_gate)
        {
            var c = _capturing ?? _total;
            c.KernelLaunches++;
            c.LaunchesByKernel[name] = c.LaunchesByKernel.GetValueOrDefault(name) + 1;
            Model(c, name, cost.Bytes ?? bytes, cost.Flops, cost.Rate);
        }
    }

    internal void Cublas(long bytes, double flops, FlopRate rate) => Work(c => c.CublasCalls++, "cublas", bytes, flops, rate);

    internal void Memset(long bytes) => Work(c => c.Memsets++, "memset", bytes, 0, FlopRate.None);

    /// <summary>A device-to-device copy reads and writes every byte.</summary>
    internal void DeviceCopy(long bytes) => Work(c => c.DeviceCopies++, "device copy", 2 * bytes, 0, FlopRate.None);

    internal void HostSync() => Host(c => c.HostSyncs++);
    internal void DriverAllocation() => Host(c => c.DriverAllocations++);
    internal void DriverFree() => Host(c => c.DriverFrees++);

    internal void Upload(long bytes) => Host(c => { c.Uploads++; c.BytesUploaded += bytes; });

    internal void Download(long bytes) => Host(c => { c.Downloads++; c.BytesDownloaded += bytes; });

    internal void GraphLaunch(Counts graph) => Host(c => { c.GraphLaunches++; c.AddWork(graph); });

    /// <summary>From here until <see cref="EndCapture"/>, device work is recorded for a graph instead of counted.</summary>
    internal void BeginCapture()
    {
        lock (_gate) _capturing = new Counts();
    }

    /// <summary>The device work recorded since <see cref="BeginCapture"/>: what each replay of the graph does.</summary>
    internal Counts EndCapture()
    {
        lock (_gate)
        {
            var graph = _capturing ?? new Counts();
            _capturing = null;
            return graph;
        }
    }

    private void Work(Action<Counts> count, string site, long bytes, double flops, FlopRate rate)
    {
        lock (_gate)
        {
            var c = _capturing ?? _total;
            count(c);
            Model(c, site, bytes, flops, rate);
        }
    }

    private static void Model(Counts c, string site, long bytes, double flops, FlopRate rate)
    {
        double seconds = DeviceModel.Seconds(bytes, flops, rate);
        c.ModelledBytes += bytes;
        c.ModelledFlops += flops;
        c.ModelledSeconds += seconds;
        c.ModelledSecondsBySite[site] = c.ModelledSecondsBySite.GetValueOrDefault(site) + seconds;
    }

    private void Host(Action<Counts> count)
    {
        lock (_gate) count(_total);
    }
}
