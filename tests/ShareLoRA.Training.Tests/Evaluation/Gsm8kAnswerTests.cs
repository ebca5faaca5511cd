using ShareLoRA.Training.Evaluation;
using Xunit;

namespace ShareLoRA.Training.Tests.Evaluation;

public class Gsm8kAnswerTests
{
    [Theory]
    [InlineData("She sells 16 - 3 - 4 = <<16-3-4=9>>9 eggs.\n#### 18", "18")]
    [InlineData("So 5 + 7 = 12\n#### 1,234", "1234")]
    [InlineData("#### $70,000.00", "70000")]
    [InlineData("#### -5.50", "-5.5")]
    [InlineData("The total is 3 + 4 = 7. The final answer is 7.", "7")]
    [InlineData("The final answer is $1,200.0 dollars, not 3", "1200")]
    [InlineData("He had 3 apples and then 10 more, so 13 apples.", "13")]
    [InlineData("it costs 4.25 dollars then 0.75", "0.75")]
    [InlineData("#### 18\n#### 20", "18")]                    // the first marker wins
    [InlineData("#### .5", "0.5")]
    public void Extracts_the_marked_or_last_number(string completion, string expected)
    {
        Assert.Equal(expected, Gsm8kAnswer.Extract(completion));
    }

    [Fact]
    public void No_number_gives_null()
    {
        Assert.Null(Gsm8kAnswer.Extract("I do not know."));
    }

    [Fact]
    public void Gold_is_the_number_after_the_marker()
    {
        Assert.Equal("72", Gsm8kAnswer.Gold("Natalia sold 48/2 = <<48/2=24>>24 clips in May.\n#### 72"));
        Assert.Equal("1000", Gsm8kAnswer.Gold("x\n#### 1,000"));
        Assert.Throws<FormatException>(() => Gsm8kAnswer.Gold("no marker"));
    }

    [Fact]
    public void Prompt_is_byte_exact()
    {
        var shot = new Gsm8kProblem("What is 1+1?", "1+1=<<1+1=2>>2\n#### 2", "f:1");
        Assert.Equal("Question: What is 1+1?\nAnswer: 1+1=<<1+1=2>>2\n#### 2\n\nQuestion: What is 2+3?\nAnswer:",
            Gsm8kPrompt.Build([shot], "What is 2+3?"));
        Assert.Equal("Question: Q\nAnswer:", Gsm8kPrompt.Build([], "Q"));
    }
}
