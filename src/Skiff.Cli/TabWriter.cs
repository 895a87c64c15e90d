using System.Text;

namespace Skiff.Cli;

/// <summary>
/// Aligns tab-separated cells the way Go's text/tabwriter does with Docker's settings
/// (minwidth 10, tabwidth 1, padding 3, padchar ' ', no flags): a tab-terminated cell is padded to
/// max(minwidth, widest cell in its column block + padding); the text after a line's last tab is
/// not aligned. A column block is a run of consecutive lines that all have that column.
/// </summary>
public sealed class TabWriter(int minWidth = 10, int padding = 3)
{
    private readonly StringBuilder _pending = new();

    /// <summary>Buffers text; nothing is aligned until <see cref="Flush"/>.</summary>
    public void Write(string text) => _pending.Append(text);

    /// <summary>Returns the aligned text of everything written so far and clears the buffer.</summary>
    public string Flush()
    {
        string text = _pending.ToString();
        _pending.Clear();
        bool endsWithNewline = text.EndsWith('\n');
        var lines = (endsWithNewline ? text[..^1] : text).Split('\n').Select(l => l.Split('\t')).ToList();
        if (text.Length == 0) return "";
        int rows = lines.Count;
        // widths[r][c]: width assigned to cell c of line r (only for tab-terminated cells).
        var widths = new int[rows][];
        for (int r = 0; r < rows; r++) widths[r] = new int[Math.Max(0, lines[r].Length - 1)];
        int maxCols = lines.Max(l => l.Length - 1);
        for (int c = 0; c < maxCols; c++)
        {
            int r = 0;
            while (r < rows)
            {
                if (lines[r].Length - 1 <= c) { r++; continue; }
                int start = r, width = minWidth;
                while (r < rows && lines[r].Length - 1 > c)
                {
                    width = Math.Max(width, CellWidth(lines[r][c]) + padding);
                    r++;
                }
                for (int k = start; k < r; k++) widths[k][c] = width;
            }
        }
        var sb = new StringBuilder(text.Length * 2);
        for (int r = 0; r < rows; r++)
        {
            var cells = lines[r];
            for (int c = 0; c < cells.Length; c++)
            {
                sb.Append(cells[c]);
                if (c < cells.Length - 1) sb.Append(' ', widths[r][c] - CellWidth(cells[c]));
            }
            if (r < rows - 1 || endsWithNewline) sb.Append('\n');
        }
        return sb.ToString();
    }

    /// <summary>Width in runes, as Go's tabwriter counts UTF-8 text.</summary>
    private static int CellWidth(string s)
    {
        int n = 0;
        foreach (var _ in s.EnumerateRunes()) n++;
        return n;
    }
}
