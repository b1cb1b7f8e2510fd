using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Electra.Train.Runs;

/// <summary>
/// <c>RUN/.electra.lock</c>: created exclusively by the run that owns the directory, holding its pid, host and
/// process start time, and deleted when that run ends. A lock whose process is gone (killed, crashed) is stale and
/// may be replaced; the start time tells a reused pid from the original owner. A plain file rather than flock, so
/// that the pid stays readable for the message that names the owner.
/// </summary>
public sealed class RunLock : IDisposable
{
    public const string FileName = ".electra.lock";

    private readonly string _content;
    private bool _released;

    private RunLock(string path, string content)
    {
        Path = path;
        _content = content;
    }

    public string Path { get; }

    /// <summary>What a lock file says about its owner.</summary>
    public sealed record Owner(int Pid, string Host, DateTime StartedUtc, string Command)
    {
        public override string ToString() => $"pid {Pid} on {Host}, `electra {Command}` started {StartedUtc:yyyy-MM-dd HH:mm:ss} UTC";
    }

    /// <summary>
    /// The owner of the lock in <paramref name="dir"/> if a live process holds it; null when there is no lock or it is
    /// stale. A lock from another host, or one that cannot be read, counts as live: it cannot be proved dead from here.
    /// </summary>
    public static Owner? LiveOwner(string dir) => Read(System.IO.Path.Combine(dir, FileName)) is { } o && IsAlive(o) ? o : null;

    /// <summary>
    /// Takes the lock of <paramref name="dir"/> (which must exist), replacing a stale one. Throws
    /// <see cref="IOException"/> naming the lock and its owner when a live run holds it.
    /// </summary>
    public static RunLock Acquire(string dir, string command, Action<string>? notice = null)
    {
        var path = System.IO.Path.Combine(dir, FileName);
        using var self = Process.GetCurrentProcess();
        var me = new Owner(Environment.ProcessId, Environment.MachineName, self.StartTime.ToUniversalTime(), command);
        var content = new JsonObject
        {
            ["pid"] = me.Pid,
            ["host"] = me.Host,
            ["started_utc"] = me.StartedUtc.ToString("O"),
            ["command"] = me.Command,
        }.ToJsonString() + "\n";
        for (int attempt = 0; attempt < 3; attempt++)
        {
            try
            {
                using (var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None))
                using (var writer = new StreamWriter(stream))
                    writer.Write(content);
                return new RunLock(path, content);
            }
            catch (IOException) when (File.Exists(path))
            {
                string? before = TryReadText(path);
                var owner = Read(path);
                if (owner is null || IsAlive(owner)) throw Held(path, owner);
                // Re-read just before deleting: a run that replaced the stale lock meanwhile must keep its own.
                if (TryReadText(path) != before) continue;
                File.Delete(path);
                notice?.Invoke($"replaced the stale lock {path} of a run that is no longer running ({owner})");
            }
        }
        throw Held(path, Read(path));
    }

    internal static IOException Held(string path, Owner? owner) => new(owner is null
        ? $"{path}: the run directory is locked and the lock cannot be read; if no electra run uses this directory, delete the lock"
        : $"{path}: the run directory is in use by another run ({owner}); wait for it to finish, or use another --out (if that process is not electra, delete the lock)");

    private static string? TryReadText(string path)
    {
        try { return File.ReadAllText(path); }
        catch (IOException) { return null; }
    }

    private static Owner? Read(string path)
    {
        var text = TryReadText(path);
        if (text is null) return null;
        try
        {
            var o = JsonNode.Parse(text)?.AsObject();
            if (o is null) return null;
            return new Owner(o["pid"]!.GetValue<int>(), o["host"]?.GetValue<string>() ?? "",
                DateTime.Parse(o["started_utc"]!.GetValue<string>(), null, System.Globalization.DateTimeStyles.RoundtripKind).ToUniversalTime(),
                o["command"]?.GetValue<string>() ?? "?");
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException or NullReferenceException)
        {
            return null;
        }
    }

    private static bool IsAlive(Owner owner)
    {
        if (!string.Equals(owner.Host, Environment.MachineName, StringComparison.Ordinal)) return true;
        try
        {
            using var process = Process.GetProcessById(owner.Pid);
            if (process.HasExited) return false;
            // A pid reused by a later process is not the owner. Start times are derived from boot time and clock
            // ticks, so allow for rounding.
            return Math.Abs((process.StartTime.ToUniversalTime() - owner.StartedUtc).TotalSeconds) < 2;
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            return false;
        }
    }

    /// <summary>Deletes the lock if it is still this run's.</summary>
    public void Dispose()
    {
        if (_released) return;
        _released = true;
        try
        {
            if (TryReadText(Path) == _content) File.Delete(Path);
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
