using ShareLoRA.Training.Data;
using ShareLoRA.Training.Jobs;
using ShareLoRA.TestSupport;
using Xunit;

namespace ShareLoRA.Training.Tests.Data;

public sealed class TrainingDataTests : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private static DataConfig Config(string train, string? eval = null, double evalFraction = 0, bool skip = false, int evalMax = 0,
        int targetMax = 512) =>
        new(train, eval, "auto", 512, targetMax, false, 0, evalMax, skip, true, evalFraction, false);

    private string Records(string name, int count) =>
        _folder.Write(name, string.Concat(Enumerable.Range(0, count).Select(i => $"{{\"instruction\": \"task {i}\", \"output\": \"answer {i}\"}}\n")));

    [Fact]
    public void EvalFileIsTokenizedBesideTrainAndCappedByEvalMaxExamples()
    {
        var data = TrainingData.Prepare(Config(Records("train.jsonl", 6), Records("eval.jsonl", 4), evalMax: 3), new CharTokenizer(), 42);
        Assert.Equal(6, data.Train.Count);
        Assert.Equal(3, data.Eval.Count);
        Assert.Equal((6, 3, 0, "alpaca"), (data.Report.TrainExamples, data.Report.EvalExamples, data.Report.HeldOut, data.Report.Format));
        Assert.Equal(data.Train.Sum(e => (long)e.TargetTokens), data.Report.TrainTargetTokens);
    }

    [Fact]
    public void EvalFractionHoldsOutADeterministicDisjointSubset()
    {
        var raw = DatasetReader.Read(Records("train.jsonl", 40)).Examples;
        var (train, eval) = TrainingData.HoldOut(raw, 0.1, 42, "train.jsonl");
        Assert.Equal((36, 4), (train.Count, eval.Count));
        Assert.Equal(raw.ToHashSet(), train.Concat(eval).ToHashSet());
        var again = TrainingData.HoldOut(raw, 0.1, 42, "train.jsonl");
        Assert.Equal(eval, again.Eval);
        Assert.NotEqual(eval, TrainingData.HoldOut(raw, 0.1, 7, "train.jsonl").Eval);
        Assert.Equal(eval.OrderBy(e => raw.ToList().IndexOf(e)), eval); // file order kept

        var data = TrainingData.Prepare(Config(Records("t2.jsonl", 40), evalFraction: 0.1), new CharTokenizer(), 42);
        Assert.Equal((36, 4, 4), (data.Train.Count, data.Eval.Count, data.Report.HeldOut));
    }

    [Fact]
    public void HoldOutThatLeavesNoTrainingIsRefused()
    {
        var raw = DatasetReader.Read(Records("train.jsonl", 1)).Examples;
        var e = Assert.Throws<DatasetException>(() => TrainingData.HoldOut(raw, 0.5, 42, "train.jsonl"));
        Assert.Equal("train.jsonl: data.eval_fraction 0.5 of 1 examples leaves nothing to train on", e.Message);
    }

    [Fact]
    public void EmptyDatasetFailsBeforeTraining()
    {
        var path = _folder.Write("train.jsonl", "\n\n");
        var e = Assert.Throws<DatasetException>(() => TrainingData.Prepare(Config(path), new CharTokenizer(), 42));
        Assert.Equal($"{path}: no training examples (the file holds no records)", e.Message);
    }

    [Fact]
    public void AllRecordsMalformedInSkipModeSaysSo()
    {
        var path = _folder.Write("train.jsonl", "{\"instruction\": \"a\"}\n{oops\n");
        var e = Assert.Throws<DatasetException>(() => TrainingData.Prepare(Config(path, skip: true), new CharTokenizer(), 42));
        Assert.Equal($"{path}: no training examples (all 2 records were malformed and skipped; first: {path}:1: missing field 'output')", e.Message);
    }

    [Fact]
    public void SkippedRecordsAreCountedInTheReport()
    {
        var path = _folder.Write("train.jsonl", "{\"instruction\": \"a\", \"output\": \"b\"}\nbroken\n{\"instruction\": \"c\", \"output\": \"d\"}\n");
        var data = TrainingData.Prepare(Config(path, skip: true), new CharTokenizer(), 42);
        Assert.Equal(2, data.Train.Count);
        Assert.Equal(1, data.Report.SkippedRecords);
        Assert.Contains("1 malformed records skipped, first: " + path + ":2: not valid JSON", data.Report.ToString());
    }

    [Fact]
    public void FingerprintDependsOnTheTrainingSequences()
    {
        var a = TrainingData.Prepare(Config(Records("a.jsonl", 5)), new CharTokenizer(), 42);
        var b = TrainingData.Prepare(Config(Records("b.jsonl", 5)), new CharTokenizer(), 42);
        var c = TrainingData.Prepare(Config(Records("c.jsonl", 6)), new CharTokenizer(), 42);
        Assert.Equal(a.Fingerprint, b.Fingerprint);
        Assert.NotEqual(a.Fingerprint, c.Fingerprint);
    }

    [SkippableFact]
    public void RealAlpacaLibreBecomesBatches()
    {
        var path = SharedAssets.RequireDirectory("data/alpaca-libre/alpaca_libre_tasks_v3.jsonl");
        var data = TrainingData.Prepare(Config(path, evalFraction: 0.05, targetMax: 64), new CharTokenizer(), 42);
        Assert.Equal(1205, data.Report.TrainExamples + data.Report.EvalExamples);
        Assert.Equal(60, data.Report.HeldOut);
        Assert.True(data.Report.TruncatedExamples > 0);
        var loader = new DataLoader(data.Train, 4, BatchCollator.PadIdOf(new CharTokenizer()), 42);
        var cursor = DataCursor.Start;
        var step = loader.NextStep(ref cursor, 4);
        Assert.All(step, b => Assert.Equal(4, b.Rows));
        Assert.All(step, b => Assert.True(b.Columns <= 512 + 64));
    }
}
