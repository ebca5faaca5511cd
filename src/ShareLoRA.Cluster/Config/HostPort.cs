using System.Globalization;

namespace ShareLoRA.Cluster.Config;

/// <summary>A HOST:PORT pair as given on the command line (--seed 10.0.0.1:4053).</summary>
public sealed record HostPort(string Host, int Port)
{
    /// <summary>Parses HOST:PORT; throws a one-line <see cref="FormatException"/> naming the option.</summary>
    public static HostPort Parse(string text, string optionName = "--seed")
    {
        var colon = text.LastIndexOf(':');
        if (colon <= 0 || colon == text.Length - 1
            || !int.TryParse(text.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var port)
            || port is < 1 or > 65535)
            throw new FormatException($"{optionName}: expected HOST:PORT with a port in 1..65535, e.g. 10.0.0.1:4053 (got '{text}')");
        return new HostPort(text[..colon].Trim('[', ']'), port);
    }

    public override string ToString() => $"{Host}:{Port}";
}
