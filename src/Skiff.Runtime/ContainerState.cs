using System.Text.Json;

namespace Skiff.Runtime;

/// <summary>What the runtime persists in <c>StateRoot/ID/state.json</c> so that another process can operate on the container.</summary>
public sealed class ContainerState
{
    public string Id { get; set; } = "";
    public int Pid { get; set; }
    /// <summary>Field 22 of /proc/PID/stat at creation, to tell our init from a recycled pid.</summary>
    public ulong PidStartTime { get; set; }
    public string Bundle { get; set; } = "";
    public string Rootfs { get; set; } = "";
    public string CgroupPath { get; set; } = "";
    public DateTime Created { get; set; }
    public Dictionary<string, string>? Annotations { get; set; }

    /// <summary>
    /// The same JSON as <c>RuntimeJsonContext</c> writes, by <see cref="Utf8JsonWriter"/>: this runs on every
    /// container start, where the serializer's first-use setup would cost more than the whole write.
    /// </summary>
    public byte[] ToJson()
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(512);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("id", Id);
            w.WriteNumber("pid", Pid);
            w.WriteNumber("pidStartTime", PidStartTime);
            w.WriteString("bundle", Bundle);
            w.WriteString("rootfs", Rootfs);
            w.WriteString("cgroupPath", CgroupPath);
            w.WriteString("created", Created);
            if (Annotations is not null)
            {
                w.WriteStartObject("annotations");
                foreach (var (k, v) in Annotations) w.WriteString(k, v);
                w.WriteEndObject();
            }
            w.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }
}

/// <summary>The OCI lifecycle states.</summary>
public enum ContainerStatus { Creating, Created, Running, Paused, Stopped }
