using ShareLoRA.Training.Jobs;
using Xunit;

namespace ShareLoRA.Training.Tests.Jobs;

/// <summary>"epochs" in job files: parsing, overrides, and its resolution to optimizer steps.</summary>
public sealed class JobStepsTests : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private string JobPath => Path.Combine(_folder.Path, "jobs", "job.json");

    private JobConfig Load(string topLevel, params string[] overrides) => JobConfig.Load(_folder.Write("jobs/job.json",
        $$"""{ "model": "m", "data": { "train": "t.jsonl" }, "batch": { "micro_batch_size": 4, "micro_batches": 2 }{{topLevel}} }"""), overrides);

    private string Error(string topLevel, params string[] overrides) =>
        Assert.Throws<JobConfigException>(() => Load(topLevel, overrides)).Message;

    [Fact]
    public void EpochsIsReadInsteadOfStepsAndRoundTrips()
    {
        var job = Load(""", "epochs": 5""");
        Assert.Equal((5, 0), (job.Epochs, job.Steps));
        var json = job.ToJson();
        Assert.Contains("\"epochs\": 5", json);
        Assert.DoesNotContain("\"steps\"", json);
        Assert.Equal(json, JobConfig.Parse(json, "job.json", "/").ToJson());
        Assert.Null(Load("").Epochs); // neither given: the default steps
        Assert.Equal(JobConfig.DefaultSteps, Load("").Steps);
    }

    [Fact]
    public void StepsAndEpochsTogetherIsAnErrorNamingBoth()
    {
        Assert.Equal($"{JobPath}: give either steps or epochs, not both (got steps 100 and epochs 3)",
            Error(""", "steps": 100, "epochs": 3"""));
    }

    [Theory]
    [InlineData("0", "epochs must be > 0 (got 0)")]
    [InlineData("-2", "epochs must be > 0 (got -2)")]
    [InlineData("1.5", "epochs must be an integer (got 1.5)")]
    public void EpochsMustBeAPositiveInteger(string value, string expected)
    {
        Assert.Equal($"{JobPath}: {expected}", Error($$""", "epochs": {{value}}"""));
    }

    [Fact]
    public void AnOverrideOfOneReplacesTheOtherAndBothOverridesAreAnError()
    {
        Assert.Equal((null, 7), (Load(""", "epochs": 5""", "steps=7").Epochs, Load(""", "epochs": 5""", "steps=7").Steps));
        Assert.Equal((3, 0), (Load(""", "steps": 100""", "epochs=3").Epochs, Load(""", "steps": 100""", "epochs=3").Steps));
        Assert.Equal($"{JobPath}: --set steps=7 and --set epochs=3: give either steps or epochs, not both",
            Error("", "steps=7", "epochs=3"));
        Assert.Equal($"{JobPath}: epochs must be > 0 (got 0) (from --set epochs=0)", Error(""", "steps": 100""", "epochs=0"));
    }

    [Theory]
    [InlineData(1, 16, 4, 2, 2)]     // 4 micro-batches per epoch, 2 per step: exact
    [InlineData(3, 16, 4, 2, 6)]
    [InlineData(1, 17, 4, 2, 3)]     // 5 micro-batches (the last holds 1): the 3rd step borrows one from epoch 2
    [InlineData(2, 17, 4, 2, 5)]     // 10 micro-batches
    [InlineData(1, 40, 3, 3, 5)]     // 14 micro-batches (the last holds 1) in steps of 3
    [InlineData(5, 42061, 8, 1, 26290)] // the paper's E2E preset: 5 epochs of 42,061 pairs at 8 per step
    [InlineData(60, 67349, 16, 1, 252600)] // SST-2: 60 x 4,210 batches (the last of each epoch holds 5), as HF counts
    [InlineData(1, 3, 8, 4, 1)]      // fewer examples than one micro-batch
    public void StepsCoverTheEpochsAsTheLoaderServesThem(int epochs, int examples, int microBatchSize, int microBatches, int expected)
    {
        Assert.Equal(expected, JobSteps.StepsFor(epochs, examples, microBatchSize, microBatches));
    }

    [Fact]
    public void ResolveSetsStepsClearsEpochsAndChecksWarmup()
    {
        var job = Load(""", "epochs": 2""");
        var resolved = JobSteps.Resolve(job, 17);
        Assert.Equal((null, 5), (resolved.Epochs, resolved.Steps));
        Assert.Equal("epochs 2 -> 5 steps (17 examples, 8 per step)", JobSteps.Describe(job, 17));
        Assert.Contains("\"steps\": 5", resolved.ToJson());
        Assert.Same(resolved, JobSteps.Resolve(resolved, 1000)); // a steps job stays as it is

        var warm = Load(""", "epochs": 1, "optim": { "warmup_steps": 3 }"""); // accepted at load: steps are not known yet
        Assert.Equal("job 'job': optim.warmup_steps must be <= steps (epochs 1 -> 2 steps (16 examples, 8 per step)) (got 3)",
            Assert.Throws<JobConfigException>(() => JobSteps.Resolve(warm, 16)).Message);
    }
}
