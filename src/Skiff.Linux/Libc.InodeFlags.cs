namespace Skiff.Linux;

public static unsafe partial class Libc
{
    private const ulong FS_IOC_GETFLAGS = 0x80086601, FS_IOC_SETFLAGS = 0x40086602;
    private const int FS_TOPDIR_FL = 0x00020000;

    /// <summary>
    /// Marks <paramref name="directory"/> as the top of unrelated directory hierarchies (<c>chattr +T</c>): ext4's Orlov
    /// allocator then spreads its subdirectories over block groups instead of placing each one in its parent's group.
    /// For a directory of image layers that matters: a layer created right after others were deleted would otherwise
    /// land in the group just freed, where ext4 skips every recently deleted inode one by one (reading the inode table
    /// for each) before it finds a usable one. Returns false where the file system has no such flag (not ext2/3/4).
    /// </summary>
    public static bool TrySetTopDirectory(string directory)
    {
        int fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
        if (fd < 0) return false;
        try
        {
            int flags;
            if (ioctl(fd, FS_IOC_GETFLAGS, &flags) < 0) return false;
            if ((flags & FS_TOPDIR_FL) != 0) return true;
            flags |= FS_TOPDIR_FL;
            return ioctl(fd, FS_IOC_SETFLAGS, &flags) == 0;
        }
        finally
        {
            close(fd);
        }
    }
}
