using System.Buffers;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Skiff.Shim;

/// <summary>
/// Writes container output in Docker's json-file format, one JSON object per line:
/// <c>{"log":"...","stream":"stdout","time":"2024-01-01T00:00:00.000000000Z"}</c>.
/// A chunk is split at newlines; a trailing part without newline is written as its own entry
/// (as Docker does for partial messages). When the file passes <c>maxSize</c> bytes it is rotated
/// to <c>.1</c>, <c>.2</c>... keeping at most <c>maxFiles</c> files in all.
/// Thread-safe: stdout and stderr pumps share one instance.
/// </summary>
public sealed class JsonFileLog : IDisposable
{
    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
    private readonly string _path;
    private readonly long _maxSize;
    private readonly int _maxFiles;
    private readonly object _lock = new();
    private readonly ArrayBufferWriter<byte> _buffer = new(4096);
    private FileStream _file;

    public JsonFileLog(string path, long maxSize, int maxFiles)
    {
        _path = path;
        _maxSize = maxSize;
        _maxFiles = Math.Max(1, maxFiles);
        _file = Open();
    }

    private FileStream Open() => new(_path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete, 1, FileOptions.None);

    /// <summary>Appends <paramref name="data"/> from <paramref name="stream"/> ("stdout" or "stderr").</summary>
    public void Write(string stream, ReadOnlySpan<byte> data)
    {
        var time = DateTime.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'00Z'", System.Globalization.CultureInfo.InvariantCulture);
        lock (_lock)
        {
            _buffer.ResetWrittenCount();
            using (var w = new Utf8JsonWriter(_buffer, WriterOptions))
            {
                while (!data.IsEmpty)
                {
                    var nl = data.IndexOf((byte)'\n');
                    var line = nl < 0 ? data : data[..(nl + 1)];
                    data = data[line.Length..];
                    w.Reset();
                    w.WriteStartObject();
                    w.WriteString("log"u8, Encoding.UTF8.GetString(line));
                    w.WriteString("stream"u8, stream);
                    w.WriteString("time"u8, time);
                    w.WriteEndObject();
                    w.Flush();
                    _buffer.Write("\n"u8);
                }
            }
            _file.Write(_buffer.WrittenSpan);
            if (_maxSize > 0 && _file.Length >= _maxSize) Rotate();
        }
    }

    private void Rotate()
    {
        _file.Dispose();
        if (_maxFiles <= 1)
        {
            File.Delete(_path);
        }
        else
        {
            for (var i = _maxFiles - 1; i >= 1; i--)
            {
                var from = i == 1 ? _path : $"{_path}.{i - 1}";
                if (File.Exists(from)) File.Move(from, $"{_path}.{i}", overwrite: true);
            }
        }
        _file = Open();
    }

    public void Dispose()
    {
        lock (_lock) _file.Dispose();
    }
}
