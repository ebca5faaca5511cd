using System.Text.RegularExpressions;

namespace ShareLoRA.Training.Tasks.E2e;

/// <summary>
/// The default (non-international) tokenisation of NIST's mteval-v13a.pl, which e2e-metrics runs for BLEU and NIST:
/// SGML entities decoded, ASCII A-Z lowercased (no -c flag), ASCII punctuation split off except '.' and ',' between
/// digits, '-' split after a digit, and whitespace collapsed. Apostrophes, hyphens between letters and non-ASCII
/// characters (£, é) stay inside words.
/// </summary>
public static partial class MtevalTokenizer
{
    public static string[] Tokenize(string text)
    {
        var s = text.Replace("<skipped>", "").Replace("-\n", "").Replace("\n", " ");
        s = s.Replace("&quot;", "\"").Replace("&amp;", "&").Replace("&lt;", "<").Replace("&gt;", ">");
        s = " " + LowercaseAscii(s) + " ";
        s = Punctuation().Replace(s, " $1 ");
        s = PeriodCommaAfterNonDigit().Replace(s, "$1 $2 ");
        s = PeriodCommaBeforeNonDigit().Replace(s, " $1 $2");
        s = DashAfterDigit().Replace(s, "$1 $2 ");
        return s.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
    }

    // Perl's tr/[A-Z]/[a-z]/ touches ASCII capitals only.
    private static string LowercaseAscii(string s) =>
        string.Create(s.Length, s, (span, src) =>
        {
            for (int i = 0; i < src.Length; i++)
                span[i] = src[i] is >= 'A' and <= 'Z' ? (char)(src[i] + 32) : src[i];
        });

    // The same character ranges as mteval's [\{-\~\[-\` -\&\(-\+\:-\@\/]: { | } ~  [ \ ] ^ _ `  space ! " # $ % &
    // ( ) * +  : ; < = > ? @  and /.
    [GeneratedRegex(@"([\{-\~\[-`\x20-&\(-\+:-@/])")]
    private static partial Regex Punctuation();

    [GeneratedRegex(@"([^0-9])([\.,])")]
    private static partial Regex PeriodCommaAfterNonDigit();

    [GeneratedRegex(@"([\.,])([^0-9])")]
    private static partial Regex PeriodCommaBeforeNonDigit();

    [GeneratedRegex(@"([0-9])(-)")]
    private static partial Regex DashAfterDigit();
}
