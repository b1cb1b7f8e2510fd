namespace Electra.Tests;

/// <summary>Locates ../shared/data (the project's sibling folder) for tests that need the real corpus or GLUE files.</summary>
public static class TestData
{
    /// <summary>The shared data folder, or null when this checkout has none (tests then skip with a reason).</summary>
    public static string? SharedDataDir
    {
        get
        {
            var env = Environment.GetEnvironmentVariable("ELECTRA_SHARED_DATA");
            if (!string.IsNullOrEmpty(env) && Directory.Exists(env)) return env;
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, "shared", "data");
                if (Directory.Exists(candidate)) return candidate;
                candidate = Path.Combine(dir.FullName, "..", "shared", "data");
                if (Directory.Exists(candidate) && File.Exists(Path.Combine(dir.FullName, "Electra.sln"))) return Path.GetFullPath(candidate);
            }
            return null;
        }
    }

    /// <summary>A file under the shared data folder; marks the test Ignored (with the reason) when it is absent.</summary>
    public static string RequireShared(string relative)
    {
        var dir = SharedDataDir;
        var path = dir is null ? null : Path.Combine(dir, relative);
        if (path is null || (!File.Exists(path) && !Directory.Exists(path)))
            Assert.Ignore($"needs ../shared/data/{relative}, which this checkout does not have");
        return path!;
    }

    /// <summary>The repository root (where Electra.sln is).</summary>
    public static string RepoRoot
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "Electra.sln"))) return dir.FullName;
            throw new InvalidOperationException("cannot find Electra.sln above " + AppContext.BaseDirectory);
        }
    }

    public static float[] RandomFloats(int n, int seed, float scale = 1f)
    {
        var rng = new Random(seed);
        var x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float)(rng.NextDouble() * 2 - 1) * scale;
        return x;
    }

    /// <summary>A fresh temporary directory, deleted by the caller (or left for the OS on failure).</summary>
    public static string TempDir()
    {
        var path = Path.Combine(Path.GetTempPath(), "electra-tests-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(path);
        return path;
    }
}
