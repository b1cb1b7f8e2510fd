using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Electra.Train.Data;

/// <summary>
/// A folder built beside its destination (<c>.NAME.tmp-PID</c>, same file system) and swapped in whole when complete,
/// so an interrupted or failed preparation leaves the destination exactly as it was: never an old manifest over a
/// mix of old and new shards. On Linux the swap is one <c>renameat2(RENAME_EXCHANGE)</c>; elsewhere it is two
/// renames, with the old folder kept aside until the new one is in place.
/// </summary>
public static partial class StagedDirectory
{
    private const string TmpInfix = ".tmp-";

    /// <summary>
    /// Refuses a destination that holds anything prepare-data did not write (a replacement would delete it), then
    /// removes staging folders that killed runs left for the same destination and makes a fresh one.
    /// </summary>
    public static string Create(string destination, Func<string, bool> isOwnFile)
    {
        destination = Resolve(destination);
        if (File.Exists(destination)) throw new IOException($"--out {destination}: is a file, expected a folder");
        if (Directory.Exists(destination))
        {
            var foreign = Directory.EnumerateFileSystemEntries(destination)
                .FirstOrDefault(e => Directory.Exists(e) || !isOwnFile(Path.GetFileName(e)));
            if (foreign is not null)
                throw new IOException(
                    $"--out {destination}: holds {Path.GetFileName(foreign)}, which prepare-data did not write; replacing the folder would delete it. Choose a new or empty folder");
        }
        string parent = Path.GetDirectoryName(destination)!;
        Directory.CreateDirectory(parent);
        string prefix = "." + Path.GetFileName(destination) + TmpInfix;
        foreach (var stale in Directory.EnumerateDirectories(parent, prefix + "*"))
            if (int.TryParse(Path.GetFileName(stale)[prefix.Length..], out int pid) && !IsRunning(pid))
                Directory.Delete(stale, recursive: true);
        string staging = Path.Combine(parent, prefix + Environment.ProcessId);
        if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
        Directory.CreateDirectory(staging);
        return staging;
    }

    /// <summary>
    /// Puts <paramref name="staging"/> in place of <paramref name="destination"/>; what was there before ends up in
    /// <paramref name="staging"/> (or is gone), for the caller to delete.
    /// </summary>
    public static void SwapIn(string staging, string destination)
    {
        destination = Resolve(destination);
        if (!Directory.Exists(destination))
        {
            Directory.Move(staging, destination);
            return;
        }
        if (TryExchange(staging, destination)) return;
        string aside = staging + ".old";
        Directory.Move(destination, aside);
        try
        {
            Directory.Move(staging, destination);
        }
        catch
        {
            Directory.Move(aside, destination);
            throw;
        }
        Directory.Move(aside, staging);
    }

    /// <summary>
    /// The absolute path without a trailing separator; a symbolic link stands for its target, so the new folder goes
    /// where the old data lives rather than replacing the link.
    /// </summary>
    private static string Resolve(string destination)
    {
        string full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(destination));
        var info = new DirectoryInfo(full);
        var target = info.Exists && info.LinkTarget is not null ? info.ResolveLinkTarget(returnFinalTarget: true) : null;
        return target is null ? full : Path.TrimEndingDirectorySeparator(target.FullName);
    }

    private static bool IsRunning(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    private const int AtFdCwd = -100;
    private const uint RenameExchange = 2;
    private const int EInval = 22, ENoSys = 38;

    /// <summary>False where the kernel, C library or file system has no atomic exchange.</summary>
    private static bool TryExchange(string a, string b)
    {
        if (!OperatingSystem.IsLinux()) return false;
        int rc;
        try
        {
            rc = RenameAt2(AtFdCwd, a, AtFdCwd, b, RenameExchange);
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            return false;
        }
        if (rc == 0) return true;
        int errno = Marshal.GetLastPInvokeError();
        if (errno is EInval or ENoSys) return false;
        throw new IOException($"cannot swap {a} into {b}: {Marshal.GetPInvokeErrorMessage(errno)}");
    }

    [LibraryImport("libc", EntryPoint = "renameat2", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int RenameAt2(int oldDirFd, string oldPath, int newDirFd, string newPath, uint flags);
}
