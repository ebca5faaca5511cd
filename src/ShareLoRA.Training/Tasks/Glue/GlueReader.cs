using System.Globalization;
using System.Text;
using ShareLoRA.Training.Data;

namespace ShareLoRA.Training.Tasks.Glue;

/// <summary>
/// Reads a GLUE train/dev TSV the way the reference code does (csv with QUOTE_NONE): fields are split on tabs only and
/// quote characters are literal text, because GLUE sentences contain bare '"'. Every row must have the task's column
/// count and a valid target; otherwise a <see cref="DatasetException"/> names "file:line".
/// </summary>
public static class GlueReader
{
    public static IReadOnlyList<GlueExample> Read(GlueTaskSpec spec, string path)
    {
        string text;
        try { text = File.ReadAllText(path, Encoding.UTF8); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DatasetException($"{path}: cannot read the {spec.Name} TSV file ({e.Message})");
        }
        return Parse(spec, text, path);
    }

    /// <param name="spec">The task whose layout the file has.</param>
    /// <param name="text">The whole file.</param>
    /// <param name="source">Names the file in error messages.</param>
    public static IReadOnlyList<GlueExample> Parse(GlueTaskSpec spec, string text, string source)
    {
        if (text.Length > 0 && text[0] == '\uFEFF') text = text[1..]; // MRPC's header starts with a BOM
        var lines = text.Split('\n');
        // A final newline leaves one empty piece that is not a row.
        int count = lines.Length > 0 && lines[^1].Length == 0 ? lines.Length - 1 : lines.Length;
        var examples = new List<GlueExample>(count);
        for (int i = 0; i < count; i++)
        {
            int lineNo = i + 1;
            var line = lines[i].EndsWith('\r') ? lines[i][..^1] : lines[i];
            var fields = line.Split('\t');
            if (fields.Length != spec.ColumnCount)
                throw new DatasetException(
                    $"{source}:{lineNo}: expected {spec.ColumnCount} tab-separated columns for {spec.Name}, found {fields.Length}");
            if (i == 0 && spec.HasHeader) continue;
            examples.Add(ParseRow(spec, fields, source, lineNo));
        }
        return examples;
    }

    private static GlueExample ParseRow(GlueTaskSpec spec, string[] fields, string source, int lineNo)
    {
        var target = fields[spec.TargetColumn];
        int label = 0;
        double score = 0;
        if (spec.IsRegression)
        {
            if (!double.TryParse(target, NumberStyles.Float, CultureInfo.InvariantCulture, out score) || !double.IsFinite(score))
                throw new DatasetException($"{source}:{lineNo}: {spec.Name} score must be a number, found '{target}'");
        }
        else
        {
            label = IndexOf(spec.LabelNames, target);
            if (label < 0)
                throw new DatasetException(
                    $"{source}:{lineNo}: {spec.Name} label must be one of {string.Join(", ", spec.LabelNames.Select(n => "'" + n + "'"))}, found '{target}'");
            score = label;
        }
        var b = spec.SentenceBColumn is int col ? fields[col] : null;
        return new GlueExample(lineNo, fields[spec.SentenceAColumn], b, label, score);
    }

    private static int IndexOf(IReadOnlyList<string> names, string value)
    {
        for (int i = 0; i < names.Count; i++)
            if (names[i] == value) return i;
        return -1;
    }
}
