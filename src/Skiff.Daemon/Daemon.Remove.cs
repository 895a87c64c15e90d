namespace Skiff.Daemon;

public sealed partial class Daemon
{
    /// <summary>
    /// Removes a container: refused while it runs unless <paramref name="force"/>, which kills it
    /// first. Deletes its writable layer, log and record; waiters for "removed" are released.
    /// </summary>
    public async Task RemoveAsync(string idOrName, bool force, bool removeVolumes)
    {
        var c = Containers.Get(idOrName);
        if (c.Record.State.Running)
        {
            if (!force)
            {
                var what = c.Record.State.Status == ContainerStatus.Paused ? "paused" : "running";
                throw DaemonException.Conflict($"cannot remove container \"/{c.Name}\": container is {what}: stop the container before removing or force remove");
            }
            var exited = c.NextExit();
            await KillAsync(c.Id, "KILL").ConfigureAwait(false);
            await Task.WhenAny(exited, Task.Delay(TimeSpan.FromSeconds(10))).ConfigureAwait(false);
            await WaitUntilSettledAsync(c).ConfigureAwait(false);
        }
        await c.Lock.WaitAsync().ConfigureAwait(false);
        try
        {
            if (c.Removed) return;
            c.Record.State.Status = ContainerStatus.Removing;
            c.Save();
            Containers.Remove(c);
            DeleteFiles(c);
        }
        finally
        {
            c.Lock.Release();
        }
        if (removeVolumes) RemoveAnonymousVolumes(c.Record);
        PublishContainer(c, "destroy");
        c.SignalRemoved(new WaitResult(c.Record.State.ExitCode, null));
    }

    private void DeleteFiles(Container c)
    {
        TeardownNetworking(c);
        TryDeleteBundle(c);
        Images.RemoveWritableLayer(c.Directory);
        if (System.IO.Directory.Exists(c.Directory)) System.IO.Directory.Delete(c.Directory, recursive: true);
    }
}
