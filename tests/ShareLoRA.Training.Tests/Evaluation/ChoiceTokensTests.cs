using ShareLoRA.Model.Tokenization;
using ShareLoRA.TestSupport;
using ShareLoRA.Training.Evaluation;
using Xunit;

namespace ShareLoRA.Training.Tests.Evaluation;

public class ChoiceTokensTests
{
    /// <summary>A tokenizer given as a table letter -> ids (as encoded alone, no special tokens).</summary>
    private sealed class TableTokenizer(Dictionary<string, int[]> table) : ITextTokenizer
    {
        public IReadOnlyList<int> Encode(string text, bool addSpecialTokens = true) => table[text];
        public string Decode(IReadOnlyList<int> ids, bool skipSpecialTokens = true) => throw new NotSupportedException();
        public int? BosId => 1;
        public int? EosId => 2;
        public int? PadId => null;
        public int VocabSize => 32000;
    }

    [Fact]
    public void Llama2_style_letters_use_the_first_id_the_prefixed_piece()
    {
        // Llama-2's tokenizer encodes "A" alone as [▁A] = [319]; QLoRA reads input_ids[0].
        var tokenizer = new TableTokenizer(new() { ["A"] = [319], ["B"] = [350], ["C"] = [315], ["D"] = [360] });
        var choices = ChoiceTokens.Resolve(tokenizer);
        Assert.Equal([319, 350, 315, 360], choices.Ids);
        Assert.Equal(ChoiceTokens.FirstTokenRule, choices.Rule);
    }

    [Fact]
    public void Colliding_first_ids_fall_back_to_the_letter_piece()
    {
        var tokenizer = new TableTokenizer(new() { ["A"] = [29871, 29909], ["B"] = [29871, 29933], ["C"] = [315], ["D"] = [29871, 29928] });
        var choices = ChoiceTokens.Resolve(tokenizer);
        Assert.Equal([29909, 29933, 315, 29928], choices.Ids);
        Assert.Equal(ChoiceTokens.LastTokenRule, choices.Rule);
    }

    [Fact]
    public void Letters_that_share_every_id_are_an_error()
    {
        var tokenizer = new TableTokenizer(new() { ["A"] = [5], ["B"] = [5], ["C"] = [6], ["D"] = [7] });
        var e = Assert.Throws<InvalidDataException>(() => ChoiceTokens.Resolve(tokenizer));
        Assert.Contains("do not map to distinct tokens", e.Message);
    }

    [SkippableFact]
    public void Stories260K_lacks_prefixed_A_C_D_so_the_letter_pieces_are_used()
    {
        using var tokenizer = HfTokenizer.Load(SharedAssets.Stories260K);
        // Its 512-piece vocabulary has "▁B" (368) but not "▁A", "▁C", "▁D": those encode as "▁" + letter, so QLoRA's
        // first id would be the same "▁" for A, C and D.
        var a = tokenizer.Encode("A", addSpecialTokens: false);
        Assert.Equal(2, a.Count);
        Assert.Equal(447, a[1]);
        Assert.Equal([368], tokenizer.Encode("B", addSpecialTokens: false));
        Assert.Equal(a[0], tokenizer.Encode("C", addSpecialTokens: false)[0]);
        var choices = ChoiceTokens.Resolve(tokenizer);
        Assert.Equal([447, 368, 457, 455], choices.Ids);
        Assert.Equal(ChoiceTokens.LastTokenRule, choices.Rule);
    }

    [SkippableFact]
    public void Byte_level_bpe_uses_the_bare_letter_without_a_space()
    {
        using var tokenizer = HfTokenizer.Load(SharedAssets.RequireDirectory("tokenizers/gpt2"));
        // GPT-2 (like Llama-3) adds no prefix space: "A" is id 32, not "ĠA" (317), exactly tokenizer("A").input_ids[0].
        var choices = ChoiceTokens.Resolve(tokenizer);
        Assert.Equal([32, 33, 34, 35], choices.Ids);
        Assert.Equal(ChoiceTokens.FirstTokenRule, choices.Rule);
        Assert.Equal([317], tokenizer.Encode(" A", addSpecialTokens: false));
    }
}
