using ShareLoRA.Training.Evaluation;
using Xunit;

namespace ShareLoRA.Training.Tests.Evaluation;

public class MmluScoreboardTests
{
    [Fact]
    public void Macro_is_the_mean_over_subjects_and_micro_pools_questions()
    {
        var board = new MmluScoreboard();
        board.Add("small", 0, 0);
        board.Add("small", 3, 3);            // small: 2/2
        board.Add("large", 1, 1);
        board.Add("large", 0, 2);
        board.Add("large", 2, 3);            // large: 1/3
        var report = board.Report();
        Assert.Equal(["large", "small"], report.Subjects.Keys);
        Assert.Equal(new SubjectScore(2, 2), report.Subjects["small"]);
        Assert.Equal(1.0 / 3.0, report.Subjects["large"].Accuracy, 15);
        Assert.Equal((1.0 + 1.0 / 3.0) / 2.0, report.MacroAccuracy, 15);   // 0.6667
        Assert.Equal(3.0 / 5.0, report.MicroAccuracy, 15);                 // 0.6
        Assert.Equal(5, report.Questions);
    }

    [Fact]
    public void Empty_board_reports_zero()
    {
        var report = new MmluScoreboard().Report();
        Assert.Empty(report.Subjects);
        Assert.Equal(0, report.MacroAccuracy);
        Assert.Equal(0, report.MicroAccuracy);
    }

    [Fact]
    public void Argmax_takes_the_first_maximum()
    {
        Assert.Equal(1, MmluEvaluator.ArgMax([0f, 2f, 2f, 1f]));
        Assert.Equal(3, MmluEvaluator.ArgMax([-1f, -2f, -3f, 0f]));
    }
}
