namespace Skiff.Linux;

/// <summary>
/// The new mount API (fsopen/fsconfig/fsmount/move_mount, Linux 5.2): a file system is configured and mounted as a
/// detached mount held by a file descriptor, which another process (e.g. one inside a user namespace) can then attach
/// in its own mount namespace. The superblock keeps the credentials of the process that created it.
/// </summary>
public static unsafe partial class Libc
{
    private const long SYS_move_mount = 429, SYS_fsopen = 430, SYS_fsconfig = 431, SYS_fsmount = 432;
    public const int FSOPEN_CLOEXEC = 1, FSMOUNT_CLOEXEC = 1;
    public const int FSCONFIG_SET_FLAG = 0, FSCONFIG_SET_STRING = 1, FSCONFIG_CMD_CREATE = 6;
    public const int MOVE_MOUNT_F_EMPTY_PATH = 4;

    /// <summary>Creates a detached mount of <paramref name="fsType"/> configured by <c>key=value</c> string options (a null value:
    /// a flag); returns its fd (CLOEXEC).</summary>
    public static int MountDetached(string fsType, IEnumerable<(string Key, string? Value)> options)
    {
        byte[] type = Utf8Z(fsType);
        long fs;
        fixed (byte* t = type) fs = syscall(SYS_fsopen, (long)t, FSOPEN_CLOEXEC, 0, 0, 0, 0);
        LinuxException.ThrowIfError((int)fs, "fsopen", fsType);
        try
        {
            foreach (var (key, value) in options)
            {
                byte[] k = Utf8Z(key), v = Utf8Z(value ?? "");
                fixed (byte* kp = k)
                fixed (byte* vp = v)
                    LinuxException.ThrowIfError((int)syscall(SYS_fsconfig, fs, value is null ? FSCONFIG_SET_FLAG : FSCONFIG_SET_STRING,
                        (long)kp, value is null ? 0 : (long)vp, 0, 0), "fsconfig", key);
            }
            LinuxException.ThrowIfError((int)syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, 0, 0, 0, 0), "fsconfig", fsType);
            long m = syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, 0, 0, 0, 0);
            return LinuxException.ThrowIfError((int)m, "fsmount", fsType);
        }
        finally
        {
            close((int)fs);
        }
    }

    /// <summary>Attaches the detached mount <paramref name="mountFd"/> at <paramref name="target"/> (move_mount with an empty source path).</summary>
    public static int MoveMount(int mountFd, string target)
    {
        byte[] empty = [0], t = Utf8Z(target);
        fixed (byte* e = empty)
        fixed (byte* tp = t)
            return (int)syscall(SYS_move_mount, mountFd, (long)e, AT_FDCWD, (long)tp, MOVE_MOUNT_F_EMPTY_PATH, 0);
    }
}
