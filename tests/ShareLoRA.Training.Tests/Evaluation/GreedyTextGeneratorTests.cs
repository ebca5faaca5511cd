using ShareLoRA.Model.Generation;
using ShareLoRA.Training.Evaluation;
using Xunit;

namespace ShareLoRA.Training.Tests.Evaluation;

public class GreedyTextGeneratorTests
{
    private static readonly AlphabetTokenizer Tokenizer = new();

    [Fact]
    public void Without_stops_it_matches_the_model_layer_greedy_generator()
    {
        using var model = TinyModel.Create();
        int[] prompt = [1, 10, 20, 30];
        var ours = GreedyTextGenerator.Generate(model, Tokenizer, prompt, 12, [], new HashSet<int>());
        var reference = Generator.Generate(model, prompt, new GenerationOptions(12, Temperature: 0));
        Assert.Equal(reference, ours.TokenIds);
        Assert.Equal(GreedyTextGenerator.LengthReason, ours.StopReason);
        Assert.Equal(Tokenizer.Decode(reference), ours.Text);
    }

    [Fact]
    public void Stops_at_the_first_stop_string_and_cuts_it_off()
    {
        using var model = TinyModel.Create();
        int[] prompt = [1, 10, 20, 30];
        var free = GreedyTextGenerator.Generate(model, Tokenizer, prompt, 12, [], new HashSet<int>());
        Assert.True(free.Text.Length >= 6, "the free run must produce text to cut");
        var stop = free.Text.Substring(3, 2);
        int at = free.Text.IndexOf(stop, StringComparison.Ordinal);

        var stopped = GreedyTextGenerator.Generate(model, Tokenizer, prompt, 12, [stop], new HashSet<int>());
        Assert.Equal(GreedyTextGenerator.StopStringReason, stopped.StopReason);
        Assert.Equal(free.Text[..at], stopped.Text);
        // It stopped at the first token whose text completes the stop string.
        Assert.Equal(free.TokenIds.Take(stopped.TokenIds.Count), stopped.TokenIds);
        Assert.Contains(stop, Tokenizer.Decode(stopped.TokenIds));
        Assert.DoesNotContain(stop, Tokenizer.Decode(stopped.TokenIds.Take(stopped.TokenIds.Count - 1).ToArray()));
    }

    [Fact]
    public void Stops_before_an_eos_id()
    {
        using var model = TinyModel.Create();
        int[] prompt = [1, 10, 20, 30];
        var free = GreedyTextGenerator.Generate(model, Tokenizer, prompt, 12, [], new HashSet<int>());
        int eos = free.TokenIds[4];
        int first = free.TokenIds.ToList().IndexOf(eos);
        var stopped = GreedyTextGenerator.Generate(model, Tokenizer, prompt, 12, [], new HashSet<int> { eos });
        Assert.Equal(GreedyTextGenerator.EosReason, stopped.StopReason);
        Assert.Equal(free.TokenIds.Take(first), stopped.TokenIds);
    }
}
