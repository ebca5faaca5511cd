using System.Text;
using ShareLoRA.Training.Data;

namespace ShareLoRA.Training.Evaluation;

/// <summary>
/// RFC 4180 CSV: fields separated by commas, records by CRLF or LF; a field in double quotes may hold commas, line
/// breaks and doubled quotes (""). Malformed input (a quote inside an unquoted field, text after a closing quote, an
/// unterminated quote) fails with a <see cref="DatasetException"/> naming "file:line".
/// </summary>
public static class CsvReader
{
    public static IReadOnlyList<CsvRecord> Read(string path)
    {
        string text;
        try { text = File.ReadAllText(path, Encoding.UTF8); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DatasetException($"{path}: cannot read the CSV file ({e.Message})");
        }
        return Parse(text, path);
    }

    /// <param name="text">The whole file.</param>
    /// <param name="source">Names the file in error messages.</param>
    public static IReadOnlyList<CsvRecord> Parse(string text, string source)
    {
        var records = new List<CsvRecord>();
        var fields = new List<string>();
        var field = new StringBuilder();
        int line = 1, recordLine = 1, i = 0;
        if (text.Length > 0 && text[0] == '\uFEFF') i = 1; // a UTF-8 BOM is not part of the first field

        while (i < text.Length)
        {
            // At the start of a field.
            if (text[i] == '"')
            {
                int quoteLine = line;
                i++;
                while (true)
                {
                    if (i >= text.Length) throw new DatasetException($"{source}:{quoteLine}: unterminated quoted field (no closing '\"')");
                    char c = text[i];
                    if (c == '"')
                    {
                        if (i + 1 < text.Length && text[i + 1] == '"') { field.Append('"'); i += 2; continue; }
                        i++;
                        break;
                    }
                    if (c == '\n') line++;
                    field.Append(c);
                    i++;
                }
                if (i < text.Length && text[i] is not (',' or '\n' or '\r'))
                    throw new DatasetException($"{source}:{line}: unexpected character '{text[i]}' after a closing quote (expected ',' or end of line)");
            }
            else
            {
                while (i < text.Length && text[i] is not (',' or '\n' or '\r'))
                {
                    if (text[i] == '"')
                        throw new DatasetException($"{source}:{line}: a double quote inside an unquoted field (quote the whole field and double the quote)");
                    field.Append(text[i]);
                    i++;
                }
            }
            fields.Add(field.ToString());
            field.Clear();

            // After a field: a comma starts the next one, a line break (or the end) ends the record.
            if (i < text.Length && text[i] == ',')
            {
                i++;
                if (i == text.Length) fields.Add(""); // "a," ends with an empty field
                continue;
            }
            if (i < text.Length && text[i] == '\r') i++;
            if (i < text.Length && text[i] == '\n') i++;
            else if (i < text.Length) throw new DatasetException($"{source}:{line}: a lone carriage return outside quotes");
            records.Add(new CsvRecord(recordLine, fields.ToArray()));
            fields.Clear();
            line++;
            recordLine = line;
        }
        if (fields.Count > 0) records.Add(new CsvRecord(recordLine, fields.ToArray()));
        return records;
    }
}
