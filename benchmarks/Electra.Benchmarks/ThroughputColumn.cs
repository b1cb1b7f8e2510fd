using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace Electra.Benchmarks;

/// <summary>
/// Work per invocation divided by the mean time: GFLOP/s for products, GB/s for memory-bound ops. Each benchmark
/// class names its work through <see cref="IWork"/>; the column asks a fresh instance with the case's parameters.
/// </summary>
public sealed class ThroughputColumn(string name, Func<BenchmarkCase, double> workPerInvocation, double unit) : IColumn
{
    public static readonly ThroughputColumn GFlops = new("GFLOP/s", c => Work(c), 1e9);
    public static readonly ThroughputColumn GBytes = new("GB/s", c => Work(c), 1e9);

    private static double Work(BenchmarkCase c)
    {
        var instance = (IWork)Activator.CreateInstance(c.Descriptor.Type)!;
        foreach (var p in c.Parameters.Items)
            c.Descriptor.Type.GetProperty(p.Name)?.SetValue(instance, p.Value);
        return instance.WorkOf(c.Descriptor.WorkloadMethod.Name);
    }

    public string Id => nameof(ThroughputColumn) + name;
    public string ColumnName => name;
    public bool AlwaysShow => true;
    public ColumnCategory Category => ColumnCategory.Custom;
    public int PriorityInCategory => 0;
    public bool IsNumeric => true;
    public UnitType UnitType => UnitType.Dimensionless;
    public string Legend => $"{name} computed from the mean time";
    public bool IsAvailable(Summary summary) => true;
    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        var stats = summary[benchmarkCase]?.ResultStatistics;
        if (stats is null) return "-";
        double seconds = stats.Mean * 1e-9;
        return (workPerInvocation(benchmarkCase) / seconds / unit).ToString("F1");
    }
}

/// <summary>Floating-point operations or bytes moved by one call of the named benchmark method.</summary>
public interface IWork
{
    double WorkOf(string method);
}
