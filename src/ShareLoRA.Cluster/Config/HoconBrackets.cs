namespace ShareLoRA.Cluster.Config;

/// <summary>
/// Checks that { } and [ ] balance in a HOCON text (outside strings and comments) before Akka parses it: Akka's
/// parser loops forever on some unbalanced inputs (e.g. an unclosed array), which would hang a node at startup.
/// </summary>
internal static class HoconBrackets
{
    /// <summary>Null when balanced, else a short description with the line number.</summary>
    public static string? FindProblem(string text)
    {
        var stack = new Stack<(char Open, int Line)>();
        var line = 1;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c == '\n') { line++; continue; }
            if (c == '#' || (c == '/' && i + 1 < text.Length && text[i + 1] == '/'))
            {
                while (i + 1 < text.Length && text[i + 1] != '\n') i++;
                continue;
            }
            if (c == '"')
            {
                var triple = i + 2 < text.Length && text[i + 1] == '"' && text[i + 2] == '"';
                var end = triple ? text.IndexOf("\"\"\"", i + 3, StringComparison.Ordinal) : ClosingQuote(text, i + 1);
                if (end < 0) return $"line {line}: string is not closed";
                for (var k = i; k < end; k++) if (text[k] == '\n') line++;
                i = triple ? end + 2 : end;
                continue;
            }
            if (c is '{' or '[') stack.Push((c, line));
            else if (c is '}' or ']')
            {
                var expectedOpen = c == '}' ? '{' : '[';
                if (stack.Count == 0) return $"line {line}: '{c}' closes nothing";
                var (open, openLine) = stack.Pop();
                if (open != expectedOpen) return $"line {line}: '{c}' does not match '{open}' opened on line {openLine}";
            }
        }
        return stack.Count == 0 ? null : $"line {stack.Peek().Line}: '{stack.Peek().Open}' is never closed";
    }

    private static int ClosingQuote(string text, int from)
    {
        for (var i = from; i < text.Length; i++)
        {
            if (text[i] == '\\') { i++; continue; }
            if (text[i] == '"') return i;
            if (text[i] == '\n') return -1;
        }
        return -1;
    }
}
