using ShareLoRA.Training.Data;

namespace ShareLoRA.Training.Tasks.E2e;

/// <summary>
/// Parses the official MR syntax ("name[The Vaults], eatType[pub], priceRange[more than £30]") and linearises it the
/// way LoRA's processed E2E files read ("name : The Vaults | Type : pub | price : more than £ 30"): attributes in the
/// MR's order, eatType shown as "Type", priceRange as "price", familyFriendly as "family friendly", and each value
/// split like the processed text (a space on each side of every punctuation or symbol character).
/// </summary>
public static class E2eMeaningRepresentation
{
    private static readonly IReadOnlyDictionary<string, string> DisplayNames = new Dictionary<string, string>
    {
        ["eatType"] = "Type",
        ["priceRange"] = "price",
        ["familyFriendly"] = "family friendly",
    };

    /// <param name="mr">The MR as the CSV holds it.</param>
    /// <param name="source">Names the file and line in error messages ("devset.csv:12").</param>
    public static IReadOnlyList<E2eSlot> Parse(string mr, string source = "MR")
    {
        var slots = new List<E2eSlot>();
        int i = 0;
        while (true)
        {
            while (i < mr.Length && (mr[i] == ' ' || mr[i] == ',')) i++;
            if (i >= mr.Length) break;
            int open = mr.IndexOf('[', i);
            int close = open < 0 ? -1 : mr.IndexOf(']', open);
            if (open < 0 || close < 0)
                throw new DatasetException($"{source}: malformed MR, expected 'attribute[value]' at '{mr[i..]}'");
            slots.Add(new E2eSlot(mr[i..open].Trim(), mr[(open + 1)..close]));
            i = close + 1;
        }
        if (slots.Count == 0) throw new DatasetException($"{source}: empty MR");
        return slots;
    }

    /// <summary>The LoRA context string for an MR: "name : X | Type : pub | ...".</summary>
    public static string Linearize(string mr, string source = "MR") =>
        string.Join(" | ", Parse(mr, source).Select(s => $"{DisplayNames.GetValueOrDefault(s.Attribute, s.Attribute)} : {SplitPunctuation(s.Value)}"));

    /// <summary>"£20-25" -> "£ 20 - 25": every non-letter, non-digit, non-space character becomes its own word.</summary>
    public static string SplitPunctuation(string value)
    {
        var words = new List<string>();
        var word = new System.Text.StringBuilder();
        foreach (var c in value)
        {
            if (char.IsWhiteSpace(c)) { Flush(); continue; }
            if (char.IsLetterOrDigit(c) || c == '_') { word.Append(c); continue; }
            Flush();
            words.Add(c.ToString());
        }
        Flush();
        return string.Join(' ', words);

        void Flush()
        {
            if (word.Length > 0) { words.Add(word.ToString()); word.Clear(); }
        }
    }

    /// <summary>One training pair per (MR, reference), in file order, with the raw official reference as target.</summary>
    /// <param name="instances">Instances of one CSV.</param>
    /// <param name="file">The CSV's path, so a malformed MR's error reads "file:line"; null: "MR at line N".</param>
    public static IReadOnlyList<E2eTrainingPair> TrainingPairs(IEnumerable<E2eInstance> instances, string? file = null) =>
        instances.SelectMany(x =>
        {
            var context = Linearize(x.Mr, file is null ? $"MR at line {x.Line}" : $"{file}:{x.Line}");
            return x.References.Select(r => new E2eTrainingPair(context, r));
        }).ToList();
}
