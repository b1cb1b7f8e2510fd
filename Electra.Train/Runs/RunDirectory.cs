namespace Electra.Train.Runs;

/// <summary>How a run may treat a run directory that already holds something.</summary>
public enum RunDirectoryUse
{
    /// <summary>A new run: the directory must be missing or empty.</summary>
    New,

    /// <summary>A new run that replaces the files an earlier run left (<c>--overwrite</c>); other files stay.</summary>
    Overwrite,

    /// <summary>The same run continued from its checkpoint (<c>--resume</c>).</summary>
    Continue,
}

/// <summary>
/// A run directory held by one run: locked for its lifetime (<see cref="RunLock"/>), refused when it holds another
/// run's files unless the caller says to overwrite or continue, and cleared of the staging folders a killed or failed
/// save left behind. Every refusal happens before anything in the directory is touched.
/// </summary>
public sealed class RunDirectory : IDisposable
{
    private readonly RunLock _lock;

    private RunDirectory(string path, RunLock runLock)
    {
        Path = path;
        _lock = runLock;
    }

    public string Path { get; }
    public string LockPath => _lock.Path;

    /// <param name="dir">The run directory (created if missing).</param>
    /// <param name="use">What the caller means to do with files already there.</param>
    /// <param name="command">The electra command, recorded in the lock.</param>
    /// <param name="owned">Top-level names the command writes (files or folders); <see cref="RunDirectoryUse.Overwrite"/> removes only these.</param>
    /// <param name="howToContinue">Offered first in the refusal of a non-empty directory, e.g. "--resume DIR/checkpoint to continue it, "</param>
    /// <param name="notice">Told what was replaced or cleaned up.</param>
    public static RunDirectory Claim(string dir, RunDirectoryUse use, string command, IReadOnlyCollection<string> owned,
        string howToContinue = "", Action<string>? notice = null)
    {
        dir = Check(dir, use, howToContinue);
        Directory.CreateDirectory(dir);
        var runLock = RunLock.Acquire(dir, command, notice);
        try
        {
            var run = new RunDirectory(dir, runLock);
            run.RemoveStaging(owned, notice);
            if (use == RunDirectoryUse.Overwrite) run.Remove(owned, notice);
            return run;
        }
        catch
        {
            runLock.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The refusals of <see cref="Claim"/> without taking anything, for a caller that wants them before slow work:
    /// a directory that is a file, one a live run holds, or (for a new run) one that holds files. Returns the full path.
    /// </summary>
    public static string Check(string dir, RunDirectoryUse use, string howToContinue = "")
    {
        dir = System.IO.Path.TrimEndingDirectorySeparator(System.IO.Path.GetFullPath(dir));
        if (File.Exists(dir)) throw new IOException($"--out {dir}: is a file, expected a run directory");
        if (!Directory.Exists(dir)) return dir;
        if (RunLock.LiveOwner(dir) is { } owner) throw RunLock.Held(System.IO.Path.Combine(dir, RunLock.FileName), owner);
        if (use == RunDirectoryUse.New)
        {
            var present = Directory.EnumerateFileSystemEntries(dir)
                .Where(p => System.IO.Path.GetFileName(p) != RunLock.FileName)
                .Select(p => System.IO.Path.GetFileName(p) + (Directory.Exists(p) ? "/" : ""))
                .Order(StringComparer.Ordinal).ToList();
            if (present.Count > 0)
                throw new IOException(
                    $"--out {dir}: the run directory is not empty (it holds {Listing(present)}); pass {howToContinue}--overwrite to replace that run, or choose another --out");
        }
        return dir;
    }

    private static string Listing(List<string> names) =>
        names.Count <= 4 ? string.Join(", ", names) : $"{string.Join(", ", names.Take(4))} and {names.Count - 4} more";

    /// <summary>
    /// Staging folders (<c>.NAME.tmp-PID</c>) and files (<c>NAME.tmp</c>) of an atomic save that never finished; the
    /// lock guarantees that no live run is writing them.
    /// </summary>
    private void RemoveStaging(IReadOnlyCollection<string> owned, Action<string>? notice)
    {
        foreach (var name in owned)
        {
            foreach (var staging in Directory.EnumerateDirectories(Path, $".{name}.tmp-*"))
            {
                Directory.Delete(staging, recursive: true);
                notice?.Invoke($"removed {staging}, left by a save that did not finish");
            }
            var tmp = System.IO.Path.Combine(Path, name + ".tmp");
            if (File.Exists(tmp))
            {
                File.Delete(tmp);
                notice?.Invoke($"removed {tmp}, left by a save that did not finish");
            }
        }
    }

    private void Remove(IReadOnlyCollection<string> owned, Action<string>? notice)
    {
        var removed = new List<string>();
        foreach (var name in owned)
        {
            var path = System.IO.Path.Combine(Path, name);
            if (Directory.Exists(path))
            {
                Directory.Delete(path, recursive: true);
                removed.Add(name + "/");
            }
            else if (File.Exists(path))
            {
                File.Delete(path);
                removed.Add(name);
            }
        }
        if (removed.Count > 0) notice?.Invoke($"--overwrite: removed the earlier run's {string.Join(", ", removed)} from {Path}");
    }

    /// <summary>
    /// Finishes or undoes an interrupted swap of <c>NAME</c> (old → <c>NAME.old</c>, staging → <c>NAME</c>): with both
    /// present the new copy is complete and the old one goes; with only <c>NAME.old</c> it is the last complete copy
    /// and moves back.
    /// </summary>
    public void RecoverSwap(string name, Action<string>? notice = null)
    {
        string current = System.IO.Path.Combine(Path, name), old = current + ".old";
        if (!Directory.Exists(old)) return;
        if (Directory.Exists(current))
        {
            Directory.Delete(old, recursive: true);
            notice?.Invoke($"removed {old}, the previous copy of an interrupted save (the new one is complete)");
        }
        else
        {
            Directory.Move(old, current);
            notice?.Invoke($"restored {current} from {old}, which an interrupted save left");
        }
    }

    public void Dispose() => _lock.Dispose();
}
