using ShareLoRA.Training.Data;

namespace ShareLoRA.Training.Evaluation;

/// <summary>
/// An MMLU folder: DIR/dev/{subject}_dev.csv (few-shot exemplars) and DIR/test/{subject}_test.csv. Rows are
/// question, choice A, B, C, D, answer; the answer is a letter A–D (original files) or a 0-based index 0–3 (the
/// re-formatted copy). An optional header row (first field "question") is skipped; blank lines are ignored.
/// </summary>
public static class MmluData
{
    public const string DevFolder = "dev";
    public const string TestFolder = "test";

    /// <summary>Subjects with a test file, sorted ordinally (the order results are reported in).</summary>
    public static IReadOnlyList<string> Subjects(string dir)
    {
        var testDir = Path.Combine(dir, TestFolder);
        if (!Directory.Exists(testDir)) throw new DirectoryNotFoundException($"{dir}: no '{TestFolder}' folder (expected {TestFolder}/SUBJECT_test.csv files)");
        var subjects = Directory.GetFiles(testDir, "*_test.csv")
            .Select(f => Path.GetFileName(f)[..^"_test.csv".Length])
            .OrderBy(s => s, StringComparer.Ordinal)
            .ToList();
        if (subjects.Count == 0) throw new DirectoryNotFoundException($"{testDir}: no *_test.csv files");
        return subjects;
    }

    public static string DevFile(string dir, string subject) => Path.Combine(dir, DevFolder, subject + "_dev.csv");

    public static string TestFile(string dir, string subject) => Path.Combine(dir, TestFolder, subject + "_test.csv");

    /// <summary>The human-readable subject of a file stem: "high_school_physics" -> "high school physics".</summary>
    public static string SubjectName(string stem) => stem.Replace('_', ' ');

    public static IReadOnlyList<MmluQuestion> ReadFile(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: MMLU file not found", path);
        var questions = new List<MmluQuestion>();
        var records = CsvReader.Read(path);
        for (int r = 0; r < records.Count; r++)
        {
            var (line, fields) = (records[r].Line, records[r].Fields);
            if (fields.Count == 1 && fields[0].Length == 0) continue;
            if (r == 0 && fields.Count > 0 && fields[0].Trim().Equals("question", StringComparison.OrdinalIgnoreCase)) continue;
            if (fields.Count != 6)
                throw new DatasetException($"{path}:{line}: expected 6 fields (question, 4 choices, answer), found {fields.Count}");
            questions.Add(new MmluQuestion(fields[0], fields.Skip(1).Take(4).ToArray(), ParseAnswer(fields[5], path, line), $"{path}:{line}"));
        }
        return questions;
    }

    private static int ParseAnswer(string text, string path, int line) => text.Trim() switch
    {
        "A" or "0" => 0,
        "B" or "1" => 1,
        "C" or "2" => 2,
        "D" or "3" => 3,
        var other => throw new DatasetException($"{path}:{line}: answer must be A-D or 0-3, found \"{other}\""),
    };
}
