namespace Electra.Benchmarks.Cuda;

/// <summary>Command line of the CUDA benchmarks: --cuda [--out DIR] [--quick].</summary>
public sealed record CudaBenchOptions(string OutDir, bool Quick)
{
    public const string DefaultOutDir = "cuda-bench";

    public static CudaBenchOptions Parse(IReadOnlyList<string> args)
    {
        string outDir = DefaultOutDir;
        bool quick = false;
        for (int i = 0; i < args.Count; i++)
        {
            switch (args[i])
            {
                case "--cuda":
                    break;
                case "--quick":
                    quick = true;
                    break;
                case "--out":
                    if (i + 1 >= args.Count || args[i + 1].StartsWith("--", StringComparison.Ordinal))
                        throw new ArgumentException("--out needs a folder for cuda-bench.md and cuda-bench.json, found " + (i + 1 < args.Count ? $"'{args[i + 1]}'" : "nothing"));
                    outDir = args[++i];
                    break;
                default:
                    throw new ArgumentException($"unknown argument '{args[i]}' for the CUDA benchmarks (expected --cuda [--out DIR] [--quick])");
            }
        }
        return new CudaBenchOptions(outDir, quick);
    }
}
