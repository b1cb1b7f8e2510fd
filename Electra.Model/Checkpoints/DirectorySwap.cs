namespace Electra.Model.Checkpoints;

/// <summary>
/// Writes a directory beside its destination (<c>.NAME.tmp-PID</c>) and swaps it in: old → NAME.old, staging → NAME,
/// then the old copy goes. A crash at any point leaves a complete directory, old or new: between the two renames the
/// complete old copy remains as NAME.old, and the next write puts it back first. A failed write removes its staging.
/// </summary>
public static class DirectorySwap
{
    /// <summary>Where <see cref="Write"/> stages <paramref name="dir"/> (an absolute path) in this process.</summary>
    public static string StagingPath(string dir) =>
        Path.Combine(Path.GetDirectoryName(dir)!, $".{Path.GetFileName(dir)}.tmp-{Environment.ProcessId}");

    public static void Write(string dir, Action<string> write)
    {
        dir = Path.GetFullPath(dir);
        Directory.CreateDirectory(Path.GetDirectoryName(dir)!);
        var staging = StagingPath(dir);
        if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
        Directory.CreateDirectory(staging);
        try
        {
            write(staging);
        }
        catch
        {
            // A full disk or a failed write: the half-written copy goes, the previous one stays.
            try { Directory.Delete(staging, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw;
        }
        var old = dir + ".old";
        if (!Directory.Exists(dir) && Directory.Exists(old)) Directory.Move(old, dir); // an earlier swap stopped halfway
        if (Directory.Exists(old)) Directory.Delete(old, recursive: true);
        if (Directory.Exists(dir)) Directory.Move(dir, old);
        Directory.Move(staging, dir);
        if (Directory.Exists(old)) Directory.Delete(old, recursive: true);
    }
}
