using System.Text;
using System.Text.Json;

namespace ShareLoRA.Training.Data;

/// <summary>
/// Reads Alpaca data (a JSON array of records, or JSONL: one record per line; fields instruction, input, output; others
/// ignored) and plain-text JSONL ({"text": ...}). Format "auto" decides from the first well-formed record's fields.
/// A malformed record fails with "file:line: reason", or is skipped and counted when <c>skipBadLines</c> is set; a
/// syntax error inside a JSON array cannot be skipped (the rest of the array is unreadable).
/// </summary>
public static class DatasetReader
{
    public const string Alpaca = "alpaca";
    public const string Text = "text";
    public const string Auto = "auto";
    private const int MaxProblemsKept = 5;

    public static DatasetFile Read(string path, string format = Auto, bool skipBadLines = false)
    {
        if (format is not (Auto or Alpaca or Text))
            throw new ArgumentException($"format must be auto, alpaca or text (got \"{format}\")", nameof(format));
        byte[] bytes;
        try { bytes = File.ReadAllBytes(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DatasetException($"{path}: cannot read the data file ({e.Message})");
        }
        var state = new ReadState(path, format, skipBadLines);
        var body = bytes.AsSpan();
        if (body.StartsWith(Encoding.UTF8.Preamble)) body = body[Encoding.UTF8.Preamble.Length..];
        var first = body.IndexOfAnyExcept(" \t\r\n"u8);
        if (first >= 0 && body[first] == (byte)'[') ReadArray(body, state);
        else ReadLines(body, state);
        return new DatasetFile(path, state.Format == Auto ? Alpaca : state.Format, state.Examples, state.Skipped, state.Problems);
    }

    private static void ReadLines(ReadOnlySpan<byte> body, ReadState state)
    {
        var line = 0;
        while (!body.IsEmpty)
        {
            line++;
            var end = body.IndexOf((byte)'\n');
            var text = end < 0 ? body : body[..end];
            body = end < 0 ? [] : body[(end + 1)..];
            if (text.IndexOfAnyExcept(" \t\r"u8) < 0) continue; // blank lines (e.g. the last one) are not records
            JsonDocument document;
            try
            {
                document = JsonDocument.Parse(text.ToArray());
            }
            catch (JsonException e)
            {
                state.Bad(line, $"not valid JSON ({ShortJsonMessage(e)})");
                continue;
            }
            using (document) state.Add(document.RootElement, line);
        }
    }

    private static void ReadArray(ReadOnlySpan<byte> body, ReadState state)
    {
        var reader = new Utf8JsonReader(body);
        var line = 1;
        var counted = 0; // bytes already scanned for newlines
        try
        {
            reader.Read(); // '['
            while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
            {
                var start = (int)reader.TokenStartIndex;
                line += body[counted..start].Count((byte)'\n');
                counted = start;
                if (reader.TokenType != JsonTokenType.StartObject)
                {
                    state.Bad(line, "expected a JSON object { ... } as array element");
                    reader.Skip();
                    continue;
                }
                using var document = JsonDocument.ParseValue(ref reader);
                state.Add(document.RootElement, line);
            }
            if (reader.TokenType != JsonTokenType.EndArray)
                throw new DatasetException($"{state.Path}: not valid JSON (the array is not closed with ']')");
            while (reader.Read()) { } // trailing content after ']' is a syntax error the reader reports
        }
        catch (JsonException e)
        {
            throw new DatasetException($"{state.Path}:{(e.LineNumber ?? 0) + 1}: not valid JSON ({ShortJsonMessage(e)})");
        }
    }

    // System.Text.Json appends " Path: $ | LineNumber: 0 | BytePositionInLine: 5." — the line is already in front.
    private static string ShortJsonMessage(JsonException e)
    {
        var message = e.Message;
        foreach (var marker in new[] { " Path: ", " LineNumber: " })
        {
            var at = message.IndexOf(marker, StringComparison.Ordinal);
            if (at > 0) message = message[..at];
        }
        return message.TrimEnd();
    }

    private sealed class ReadState(string path, string format, bool skipBadLines)
    {
        public string Path { get; } = path;
        public string Format { get; private set; } = format;
        public List<RawExample> Examples { get; } = [];
        public List<string> Problems { get; } = [];
        public int Skipped { get; private set; }

        public void Bad(int line, string reason)
        {
            var message = $"{Path}:{line}: {reason}";
            if (!skipBadLines) throw new DatasetException(message);
            Skipped++;
            if (Problems.Count < MaxProblemsKept) Problems.Add(message);
        }

        public void Add(JsonElement record, int line)
        {
            if (record.ValueKind != JsonValueKind.Object)
            {
                Bad(line, $"expected a JSON object {{ ... }} (got {record.ValueKind.ToString().ToLowerInvariant()})");
                return;
            }
            if (Format == Auto)
            {
                if (record.TryGetProperty("instruction", out _)) Format = Alpaca;
                else if (record.TryGetProperty("text", out _)) Format = Text;
                else
                {
                    Bad(line, "cannot tell the format: expected a field 'instruction' (alpaca) or 'text'; or set data.format");
                    return;
                }
            }
            var origin = $"{Path}:{line}";
            string? problem;
            if (Format == Alpaca)
            {
                if ((problem = Field(record, "instruction", required: true, out var instruction)) is null
                    && (problem = Field(record, "input", required: false, out var input)) is null
                    && (problem = Field(record, "output", required: true, out var output)) is null)
                {
                    Examples.Add(new AlpacaExample(instruction!, input ?? "", output!, origin));
                    return;
                }
            }
            else if ((problem = Field(record, "text", required: true, out var text)) is null)
            {
                Examples.Add(new TextExample(text!, origin));
                return;
            }
            Bad(line, problem);
        }

        // A string field; a missing or null optional field is null. Returns the problem, or null when fine.
        private static string? Field(JsonElement record, string name, bool required, out string? value)
        {
            value = null;
            if (!record.TryGetProperty(name, out var element) || element.ValueKind == JsonValueKind.Null)
                return required ? $"missing field '{name}'" : null;
            if (element.ValueKind != JsonValueKind.String)
                return $"field '{name}' must be a string (got {element.ValueKind.ToString().ToLowerInvariant()})";
            value = element.GetString();
            return null;
        }
    }
}
