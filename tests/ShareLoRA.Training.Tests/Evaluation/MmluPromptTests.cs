using ShareLoRA.Training.Evaluation;
using Xunit;

namespace ShareLoRA.Training.Tests.Evaluation;

public class MmluPromptTests
{
    private static readonly MmluQuestion Test = new("What is 2+2?", ["3", "4", "5", "22"], 1, "t:1");
    private static readonly MmluQuestion Dev1 = new("Which is a prime?", ["4", "6", "7", "9"], 2, "d:1");
    private static readonly MmluQuestion Dev2 = new("Pick \"A\", then, stop.", ["x", "y", "z", "w"], 0, "d:2");

    [Fact]
    public void Zero_shot_prompt_is_byte_exact()
    {
        Assert.Equal(
            "The following are multiple choice questions (with answers) about abstract algebra.\n\n" +
            "What is 2+2?\nA. 3\nB. 4\nC. 5\nD. 22\nAnswer:",
            MmluPrompt.Build("abstract_algebra", [], Test));
    }

    [Fact]
    public void Two_shot_prompt_is_byte_exact()
    {
        Assert.Equal(
            "The following are multiple choice questions (with answers) about high school physics.\n\n" +
            "Which is a prime?\nA. 4\nB. 6\nC. 7\nD. 9\nAnswer: C\n\n" +
            "Pick \"A\", then, stop.\nA. x\nB. y\nC. z\nD. w\nAnswer: A\n\n" +
            "What is 2+2?\nA. 3\nB. 4\nC. 5\nD. 22\nAnswer:",
            MmluPrompt.Build("high_school_physics", [Dev1, Dev2], Test));
    }
}
