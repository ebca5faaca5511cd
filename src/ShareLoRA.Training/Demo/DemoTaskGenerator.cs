using System.Globalization;
using ShareLoRA.Training.Determinism;

namespace ShareLoRA.Training.Demo;

/// <summary>
/// Synthetic instruction data with a few small, learnable task families over short words and numbers (reverse, add,
/// sort letters, repeat, uppercase, next letter), so a tiny model's loss visibly falls within a few hundred steps.
/// The same seed always gives the same examples.
/// </summary>
public sealed class DemoTaskGenerator
{
    private static readonly string[] Words =
    [
        "stone", "river", "cloud", "apple", "tiger", "lemon", "bread", "chair", "grass", "light",
        "water", "house", "plant", "green", "music", "paper", "smile", "storm", "horse", "night",
        "bird", "fish", "tree", "moon", "star", "rain", "wind", "fire", "snow", "sand",
        "milk", "rock", "leaf", "door", "book", "lamp", "ship", "road", "frog", "wolf",
        "cat", "dog", "sun", "sea", "sky", "owl", "bee", "cup", "map", "box",
    ];

    private static readonly Func<DemoTaskGenerator, DemoExample>[] Families =
    [
        g => g.Reverse(), g => g.Add(), g => g.SortLetters(), g => g.Repeat(), g => g.Uppercase(), g => g.NextLetter(),
    ];

    private SplitMix64 _random;

    public DemoTaskGenerator(long seed) => _random = new SplitMix64(unchecked((ulong)seed * 0xD1B54A32D192ED03UL + 0x5EEDUL));

    /// <summary>The task families' instructions, one per family.</summary>
    public static IReadOnlyList<string> Instructions { get; } =
    [
        "Reverse the word.", "Add the numbers.", "Sort the letters.", "Repeat the word three times.",
        "Write the word in capital letters.", "Give the next letter of the alphabet.",
    ];

    /// <summary>The next <paramref name="count"/> examples, the families drawn uniformly.</summary>
    public IReadOnlyList<DemoExample> Next(int count)
    {
        var examples = new List<DemoExample>(count);
        for (var i = 0; i < count; i++) examples.Add(Families[_random.NextInt(Families.Length)](this));
        return examples;
    }

    private string Word() => Words[_random.NextInt(Words.Length)];

    private DemoExample Reverse()
    {
        var word = Word();
        return new(Instructions[0], word, new string(word.Reverse().ToArray()));
    }

    private DemoExample Add()
    {
        var a = _random.NextInt(50);
        var b = _random.NextInt(50);
        return new(Instructions[1], string.Create(CultureInfo.InvariantCulture, $"{a} + {b}"), (a + b).ToString(CultureInfo.InvariantCulture));
    }

    private DemoExample SortLetters()
    {
        var word = Word();
        return new(Instructions[2], word, new string(word.Order().ToArray()));
    }

    private DemoExample Repeat()
    {
        var word = Word();
        return new(Instructions[3], word, $"{word} {word} {word}");
    }

    private DemoExample Uppercase()
    {
        var word = Word();
        return new(Instructions[4], word, word.ToUpperInvariant());
    }

    private DemoExample NextLetter()
    {
        var letter = (char)('a' + _random.NextInt(25));
        return new(Instructions[5], letter.ToString(), ((char)(letter + 1)).ToString());
    }
}
