using System.Text;

namespace ShareLoRA.Training.Tasks.E2e;

/// <summary>
/// The tokenisation coco-caption applies before ROUGE-L and CIDEr: Stanford PTBTokenizer (CoreNLP 3.4.1, -lowerCase)
/// followed by dropping the punctuation tokens '' ' `` ` -LRB- -RRB- -LCB- -RCB- . ? ! , : - -- ... ;.
/// This is a re-implementation of the PTB rules that E2E text exercises, not the Java lexer: words are runs of
/// letters and digits that may join with '-' (family-friendly, 20-25) or with '.'/',' between digits (3.5, 1,000);
/// the clitics n't 's 'll 're 've 'm 'd split off (isn't -> is n't, can't -> ca n't, cannot -> can not); currency
/// signs and every other symbol are tokens of their own; quotes, brackets and the listed punctuation disappear.
/// Known differences from the Java lexer: no abbreviation list (st. -> st), no British-to-American respelling, URLs
/// and e-mail addresses are not kept whole.
/// </summary>
public static class CocoCaptionTokenizer
{
    private static readonly HashSet<string> Removed =
        ["''", "'", "``", "`", "-lrb-", "-rrb-", "-lcb-", "-rcb-", ".", "?", "!", ",", ":", "-", "--", "...", ";", "\"", "(", ")", "{", "}"];

    private static readonly string[] Clitics = ["n't", "'s", "'ll", "'re", "'ve", "'m", "'d"];

    /// <summary>Lowercased tokens without punctuation, as coco-caption's PTBTokenizer wrapper returns them.</summary>
    public static IReadOnlyList<string> Tokenize(string text)
    {
        var tokens = new List<string>();
        var s = text.Replace('\n', ' ').ToLowerInvariant().Replace('\u2019', '\'').Replace('\u2018', '\'');
        int i = 0;
        while (i < s.Length)
        {
            char c = s[i];
            if (char.IsWhiteSpace(c)) { i++; continue; }
            if (char.IsLetterOrDigit(c))
            {
                int start = i;
                i = ScanWord(s, i);
                AddWord(s[start..i], tokens);
                continue;
            }
            if (c == '.' && i + 2 < s.Length && s[i + 1] == '.' && s[i + 2] == '.') { Add("...", tokens); i += 3; continue; }
            if (c == '-' && i + 1 < s.Length && s[i + 1] == '-') { Add("--", tokens); i += 2; continue; }
            Add(c.ToString(), tokens);
            i++;
        }
        return tokens;
    }

    /// <summary>The tokens joined with single spaces: the string coco-caption's scorers split again.</summary>
    public static string TokenizeToString(string text) => string.Join(' ', Tokenize(text));

    private static int ScanWord(string s, int i)
    {
        while (i < s.Length)
        {
            char c = s[i];
            if (char.IsLetterOrDigit(c) || char.GetUnicodeCategory(c) == System.Globalization.UnicodeCategory.NonSpacingMark) { i++; continue; }
            bool nextAlnum = i + 1 < s.Length && char.IsLetterOrDigit(s[i + 1]);
            if (c == '-' && nextAlnum) { i++; continue; }
            if (c == '\'' && nextAlnum) { i++; continue; } // isn't, o'clock: clitics are split afterwards
            if ((c == '.' || c == ',') && char.IsDigit(s[i - 1]) && i + 1 < s.Length && char.IsDigit(s[i + 1])) { i++; continue; }
            break;
        }
        return i;
    }

    private static void AddWord(string word, List<string> tokens)
    {
        if (word == "cannot") { tokens.Add("can"); tokens.Add("not"); return; }
        foreach (var clitic in Clitics)
        {
            if (word.Length > clitic.Length && word.EndsWith(clitic, StringComparison.Ordinal))
            {
                AddWord(word[..^clitic.Length], tokens);
                tokens.Add(clitic);
                return;
            }
        }
        // Any apostrophe left inside a word (o'clock, y'all) stays part of it, as in PTB.
        tokens.Add(word);
    }

    private static void Add(string token, List<string> tokens)
    {
        if (!Removed.Contains(token)) tokens.Add(token);
    }
}
