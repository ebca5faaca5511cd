using ShareLoRA.Training.Optimization;
using Xunit;

namespace ShareLoRA.Training.Tests.Optimization;

public class LearningRateScheduleTests
{
    private static LearningRateSchedule Make(LearningRateScheduleKind kind, int warmup = 10, int total = 110, double cycles = 0.5) =>
        new(kind, PeakLearningRate: 2e-4, WarmupSteps: warmup, TotalSteps: total, NumCycles: cycles);

    // Values of transformers' lr_lambda for warmup 10, total 110.
    [Theory]
    [InlineData(LearningRateScheduleKind.Constant, new[] { 0, 5, 10, 60, 110, 500 }, new[] { 1.0, 1, 1, 1, 1, 1 })]
    [InlineData(LearningRateScheduleKind.ConstantWithWarmup, new[] { 0, 1, 5, 10, 60, 500 }, new[] { 0.0, 0.1, 0.5, 1, 1, 1 })]
    [InlineData(LearningRateScheduleKind.Linear, new[] { 0, 5, 10, 35, 60, 109, 110, 200 }, new[] { 0.0, 0.5, 1, 0.75, 0.5, 0.01, 0, 0 })]
    [InlineData(LearningRateScheduleKind.Cosine, new[] { 0, 5, 10, 60, 110 }, new[] { 0.0, 0.5, 1, 0.5, 0 })]
    public void Multipliers_match_hugging_face(LearningRateScheduleKind kind, int[] steps, double[] expected)
    {
        var schedule = Make(kind);
        for (int i = 0; i < steps.Length; i++)
        {
            Assert.Equal(expected[i], schedule.Multiplier(steps[i]), 12);
            Assert.Equal(2e-4 * expected[i], schedule.At(steps[i]), 15);
        }
    }

    [Fact]
    public void Cosine_follows_half_a_wave_and_more_cycles_when_asked()
    {
        var half = Make(LearningRateScheduleKind.Cosine);
        Assert.Equal(0.5 * (1 + Math.Cos(Math.PI * 0.25)), half.Multiplier(35), 12); // 0.853553...
        Assert.Equal(0.5 * (1 + Math.Cos(Math.PI * 0.75)), half.Multiplier(85), 12);
        var full = Make(LearningRateScheduleKind.Cosine, cycles: 1);
        Assert.Equal(0.0, full.Multiplier(60), 12);  // bottom of the wave mid-way
        Assert.Equal(1.0, full.Multiplier(110), 12); // and back up at the end
        // Like HF, progress is not clamped: past TotalSteps the cosine rises again (a trainer never gets there).
        Assert.Equal(0.5 * (1 + Math.Cos(Math.PI * 1.9)), half.Multiplier(200), 12);
    }

    [Fact]
    public void Zero_warmup_starts_at_the_peak()
    {
        Assert.Equal(1.0, Make(LearningRateScheduleKind.ConstantWithWarmup, warmup: 0).Multiplier(0));
        Assert.Equal(1.0, Make(LearningRateScheduleKind.Linear, warmup: 0, total: 100).Multiplier(0));
        Assert.Equal(0.5, Make(LearningRateScheduleKind.Linear, warmup: 0, total: 100).Multiplier(50), 12);
        Assert.Equal(1.0, Make(LearningRateScheduleKind.Cosine, warmup: 0, total: 100).Multiplier(0), 12);
    }

    [Theory]
    [InlineData(3000, 0.03, 0, 90)]      // the paper's LLaMA-1/2 setting
    [InlineData(1875, 0.03, 0, 57)]      // ceil(56.25)
    [InlineData(1875, 0.03, 100, 100)]   // explicit steps win
    [InlineData(1000, 0.0, 0, 0)]
    public void Warmup_steps_from_ratio_round_up_like_trainer_arguments(int total, double ratio, int explicitSteps, int expected) =>
        Assert.Equal(expected, LearningRateSchedule.WarmupStepsFor(total, ratio, explicitSteps));

    [Theory]
    [InlineData("constant", LearningRateScheduleKind.Constant)]
    [InlineData("constant_with_warmup", LearningRateScheduleKind.ConstantWithWarmup)]
    [InlineData("Constant-With-Warmup", LearningRateScheduleKind.ConstantWithWarmup)]
    [InlineData("linear", LearningRateScheduleKind.Linear)]
    [InlineData("cosine", LearningRateScheduleKind.Cosine)]
    public void Parses_hf_scheduler_names(string name, LearningRateScheduleKind kind) =>
        Assert.Equal(kind, LearningRateSchedule.ParseKind(name));

    [Fact]
    public void Unknown_scheduler_name_is_one_line()
    {
        var e = Assert.Throws<ArgumentException>(() => LearningRateSchedule.ParseKind("polynomial", "job.json: train.lr_scheduler"));
        Assert.Equal("job.json: train.lr_scheduler must be one of constant, constant_with_warmup, linear, cosine (got 'polynomial')", e.Message);
    }

    [Fact]
    public void Negative_step_is_rejected() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => Make(LearningRateScheduleKind.Linear).Multiplier(-1));
}
