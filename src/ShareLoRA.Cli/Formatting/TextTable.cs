using System.Text;

namespace ShareLoRA.Cli.Formatting;

/// <summary>
/// A plain aligned text table for logs and pipes (the terminal gets a Spectre table instead): columns separated by
/// two spaces, text left-aligned and numbers right-aligned, no trailing spaces.
/// </summary>
public sealed class TextTable
{
    private readonly string[] _headers;
    private readonly bool[] _rightAligned;
    private readonly List<string[]> _rows = [];

    /// <param name="columns">Header and alignment of each column.</param>
    public TextTable(params (string Header, bool RightAligned)[] columns)
    {
        _headers = columns.Select(c => c.Header).ToArray();
        _rightAligned = columns.Select(c => c.RightAligned).ToArray();
    }

    /// <summary>Adds a row with one cell per column.</summary>
    public TextTable Add(params string[] cells)
    {
        if (cells.Length != _headers.Length)
            throw new ArgumentException($"table row has {cells.Length} cells; the table has {_headers.Length} columns");
        _rows.Add(cells);
        return this;
    }

    public override string ToString()
    {
        var widths = _headers.Select((h, i) => _rows.Select(r => r[i].Length).Prepend(h.Length).Max()).ToArray();
        var sb = new StringBuilder();
        foreach (var row in _rows.Prepend(_headers))
        {
            var line = new StringBuilder();
            for (int i = 0; i < row.Length; i++)
            {
                if (i > 0) line.Append("  ");
                line.Append(_rightAligned[i] ? row[i].PadLeft(widths[i]) : row[i].PadRight(widths[i]));
            }
            sb.Append(line.ToString().TrimEnd()).Append('\n');
        }
        return sb.ToString();
    }
}
