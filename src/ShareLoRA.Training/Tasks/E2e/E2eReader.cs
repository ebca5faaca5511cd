using System.Text;
using ShareLoRA.Training.Data;
using ShareLoRA.Training.Evaluation;

namespace ShareLoRA.Training.Tasks.E2e;

/// <summary>
/// Reads the E2E NLG data: the official CSVs (header "mr,ref" for train/dev/testset_w_refs, "MR" alone for testset),
/// LoRA's processed "context||completion" text, and the plain-text inputs of the e2e-metrics scorer (one hypothesis a
/// line; references one a line with groups separated by blank lines).
/// </summary>
public static class E2eReader
{
    /// <summary>
    /// An official CSV. Rows with the same MR become one instance with every reference in file order; instances come
    /// in order of each MR's first appearance. (The official scorer groups consecutive equal MRs; in the official
    /// files every MR's rows are consecutive, so both give the same groups.) The scorer's repairs of mis-encoded
    /// characters (Ł, Â£ -> £; Ã©, ã© -> é) are applied to every field.
    /// </summary>
    public static IReadOnlyList<E2eInstance> ReadCsv(string path) => ParseCsv(ReadText(path, "E2E CSV"), path);

    public static IReadOnlyList<E2eInstance> ParseCsv(string text, string source)
    {
        var records = CsvReader.Parse(text, source).Where(r => !(r.Fields.Count == 1 && r.Fields[0].Length == 0)).ToList();
        if (records.Count == 0) throw new DatasetException($"{source}: empty file (expected a header 'mr,ref' or 'MR')");
        var header = records[0].Fields.Select(f => f.Trim().ToLowerInvariant()).ToList();
        bool hasRefs;
        if (header.Count == 2 && header[0] == "mr" && header[1] == "ref") hasRefs = true;
        else if (header.Count == 1 && header[0] == "mr") hasRefs = false;
        else
            throw new DatasetException(
                $"{source}:{records[0].Line}: expected the header 'mr,ref' (or 'MR' for testset.csv), found '{string.Join(",", records[0].Fields)}'");

        var groups = new Dictionary<string, (int Line, List<string> Refs)>();
        var order = new List<string>();
        foreach (var record in records.Skip(1))
        {
            int expected = hasRefs ? 2 : 1;
            if (record.Fields.Count != expected)
                throw new DatasetException($"{source}:{record.Line}: expected {expected} column(s), found {record.Fields.Count}");
            var mr = RepairEncoding(record.Fields[0]);
            if (mr.Trim().Length == 0) throw new DatasetException($"{source}:{record.Line}: empty MR");
            if (!groups.TryGetValue(mr, out var group))
            {
                group = (record.Line, new List<string>());
                groups[mr] = group;
                order.Add(mr);
            }
            if (hasRefs) group.Refs.Add(RepairEncoding(record.Fields[1]));
        }
        return order.Select(mr => new E2eInstance(groups[mr].Line, mr, groups[mr].Refs)).ToList();
    }

    /// <summary>
    /// LoRA's processed file (valid.txt/test.txt/train.txt): "linearised MR||reference" a line, grouped by identical
    /// context like <see cref="ReadCsv"/>. The MR of each instance is the linearised context.
    /// </summary>
    public static IReadOnlyList<E2eInstance> ReadLoraText(string path) => ParseLoraText(ReadText(path, "LoRA E2E text"), path);

    public static IReadOnlyList<E2eInstance> ParseLoraText(string text, string source)
    {
        var groups = new Dictionary<string, (int Line, List<string> Refs)>();
        var order = new List<string>();
        var lines = SplitLines(text);
        for (int i = 0; i < lines.Count; i++)
        {
            if (lines[i].Length == 0) continue;
            int bar = lines[i].IndexOf("||", StringComparison.Ordinal);
            if (bar < 0) throw new DatasetException($"{source}:{i + 1}: expected 'context||completion' (no '||' found)");
            // LoRA's converter strips the line and splits on '||': the context is before the first '||'.
            var context = lines[i][..bar].Trim();
            var completion = lines[i][(bar + 2)..];
            int next = completion.IndexOf("||", StringComparison.Ordinal);
            if (next >= 0) completion = completion[..next];
            if (!groups.TryGetValue(context, out var group))
            {
                group = (i + 1, new List<string>());
                groups[context] = group;
                order.Add(context);
            }
            group.Refs.Add(completion.Trim());
        }
        return order.Select(c => new E2eInstance(groups[c].Line, c, groups[c].Refs)).ToList();
    }

    /// <summary>
    /// Training pairs of a file as `sharelora e2e train` and E2E jobs read them: a *.csv is the official CSV (each MR
    /// linearised, one pair per reference, <see cref="E2eMeaningRepresentation.TrainingPairs"/>; a CSV without references
    /// is refused), anything else LoRA's processed 'context||completion' text (contexts already linearised).
    /// </summary>
    public static IReadOnlyList<E2eTrainingPair> ReadTrainingPairs(string path)
    {
        if (path.EndsWith(".csv", StringComparison.OrdinalIgnoreCase))
        {
            var instances = ReadCsv(path);
            if (instances.Any(i => i.References.Count == 0))
                throw new DatasetException($"{path}: has no references (a test-set CSV without refs cannot train)");
            return E2eMeaningRepresentation.TrainingPairs(instances, path);
        }
        return ReadLoraText(path).SelectMany(i => i.References.Select(r => new E2eTrainingPair(i.Mr, r))).ToList();
    }

    /// <summary>Instances to generate for: an official CSV (*.csv, raw MRs) or LoRA's processed text (contexts as is).</summary>
    public static IReadOnlyList<E2eInstance> ReadInstances(string path) =>
        path.EndsWith(".csv", StringComparison.OrdinalIgnoreCase) ? ReadCsv(path) : ReadLoraText(path);

    /// <summary>System outputs, one a line, each stripped of surrounding whitespace (blank lines are empty outputs).</summary>
    public static IReadOnlyList<string> ReadHypotheses(string path)
    {
        var lines = SplitLines(ReadText(path, "hypotheses"));
        return lines.Select(l => l.Trim()).ToList();
    }

    /// <summary>
    /// e2e-metrics' multi-reference text: references one a line, instances separated by one blank line. A file
    /// without any blank line is single-reference (each line its own instance), as the official scorer reads it.
    /// </summary>
    public static IReadOnlyList<IReadOnlyList<string>> ReadReferenceGroups(string path) =>
        ParseReferenceGroups(ReadText(path, "references"), path);

    public static IReadOnlyList<IReadOnlyList<string>> ParseReferenceGroups(string text, string source)
    {
        var lines = SplitLines(text).Select(l => l.Trim()).ToList();
        var groups = new List<List<string>> { new() };
        int groupStart = 1;
        for (int i = 0; i < lines.Count; i++)
        {
            if (lines[i].Length > 0) { groups[^1].Add(lines[i]); continue; }
            if (groups[^1].Count == 0)
                throw new DatasetException($"{source}:{i + 1}: empty reference group (blank line at line {groupStart} or two blank lines in a row)");
            groups.Add(new List<string>());
            groupStart = i + 1;
        }
        if (groups[^1].Count == 0) groups.RemoveAt(groups.Count - 1);
        if (groups.Count == 1) return groups[0].Select(r => (IReadOnlyList<string>)new[] { r }).ToList();
        return groups;
    }

    /// <summary>The official scorer's repairs of mis-encoded pound and e-acute signs in reference files.</summary>
    public static string RepairEncoding(string s) =>
        s.Replace("Ł", "£").Replace("Â£", "£").Replace("Ã©", "é").Replace("ã©", "é");

    private static string ReadText(string path, string what)
    {
        try { return File.ReadAllText(path, Encoding.UTF8); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DatasetException($"{path}: cannot read the {what} file ({e.Message})");
        }
    }

    /// <summary>Lines without their terminators; a final line break does not start another line.</summary>
    private static List<string> SplitLines(string text)
    {
        if (text.Length > 0 && text[0] == '\uFEFF') text = text[1..];
        var lines = text.Split('\n').Select(l => l.EndsWith('\r') ? l[..^1] : l).ToList();
        if (lines.Count > 0 && lines[^1].Length == 0) lines.RemoveAt(lines.Count - 1);
        return lines;
    }
}
