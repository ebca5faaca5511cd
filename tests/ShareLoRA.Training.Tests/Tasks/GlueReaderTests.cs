using ShareLoRA.Training.Data;
using ShareLoRA.Training.Tasks.Glue;
using ShareLoRA.TestSupport;
using Xunit;

namespace ShareLoRA.Training.Tests.Tasks;

public sealed class GlueReaderTests
{
    [Fact]
    public void MrpcSkipsTheBomHeaderAndKeepsQuotesLiteral()
    {
        var text = "\uFEFFQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\n" +
                   "1\t11\t12\tHe said \" no .\t\" No , \" he said .\n" +
                   "0\t13\t14\ta\tb\n";
        var rows = GlueReader.Parse(GlueTasks.Mrpc, text, "dev.tsv");
        Assert.Equal(2, rows.Count);
        Assert.Equal(new GlueExample(2, "He said \" no .", "\" No , \" he said .", 1, 1), rows[0]);
        Assert.Equal(0, rows[1].Label);
        Assert.Equal(3, rows[1].Line);
    }

    [Fact]
    public void ColaHasNoHeaderAndRteMapsEntailmentToZero()
    {
        var cola = GlueReader.Parse(GlueTasks.Cola, "gj04\t1\t\tThe sailors rode.\ngj04\t0\t*\tRode sailors the.\n", "cola.tsv");
        Assert.Equal([1, 0], cola.Select(r => r.Label));
        Assert.Equal("The sailors rode.", cola[0].SentenceA);
        Assert.Null(cola[0].SentenceB);

        var rte = GlueReader.Parse(GlueTasks.Rte, "index\tsentence1\tsentence2\tlabel\n0\ta\tb\tnot_entailment\n1\tc\td\tentailment\n", "rte.tsv");
        Assert.Equal([1, 0], rte.Select(r => r.Label));
        Assert.Equal(("c", "d"), (rte[1].SentenceA, rte[1].SentenceB));
    }

    [Fact]
    public void StsbReadsTheScoreAsARealNumber()
    {
        var header = "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n";
        var rows = GlueReader.Parse(GlueTasks.Stsb, header + "0\tg\tf\ty\t0\tn\tn\tA man.\tA guy.\t4.750\r\n", "sts.tsv");
        Assert.Equal(4.75, rows[0].Score);
        Assert.Equal(("A man.", "A guy."), (rows[0].SentenceA, rows[0].SentenceB));
        Assert.True(GlueTasks.Stsb.IsRegression);
    }

    [Fact]
    public void AMalformedRowNamesFileAndLine()
    {
        var columns = Assert.Throws<DatasetException>(() =>
            GlueReader.Parse(GlueTasks.Sst2, "sentence\tlabel\ngood film\t1\nbad film 0\n", "SST-2/dev.tsv"));
        Assert.Equal("SST-2/dev.tsv:3: expected 2 tab-separated columns for SST-2, found 1", columns.Message);

        var label = Assert.Throws<DatasetException>(() =>
            GlueReader.Parse(GlueTasks.Qnli, "index\tquestion\tsentence\tlabel\n0\tq\ts\tentailed\n", "QNLI/dev.tsv"));
        Assert.StartsWith("QNLI/dev.tsv:2: QNLI label must be one of 'entailment', 'not_entailment', found 'entailed'", label.Message);

        var score = Assert.Throws<DatasetException>(() => GlueReader.Parse(GlueTasks.Stsb,
            "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n0\tg\tf\ty\t0\tn\tn\ta\tb\tfive\n", "sts.tsv"));
        Assert.StartsWith("sts.tsv:2:", score.Message);
    }

    [Fact]
    public void TaskNamesParseLoosely()
    {
        Assert.Same(GlueTasks.Sst2, GlueTasks.Parse("sst2"));
        Assert.Same(GlueTasks.Stsb, GlueTasks.Parse("STS-B"));
        Assert.Same(GlueTasks.Cola, GlueTasks.Parse("cola"));
        Assert.Throws<ArgumentException>(() => GlueTasks.Parse("mnli"));
    }

    [SkippableTheory]
    [InlineData("SST-2", "dev.tsv", 872, 444)]
    [InlineData("SST-2", "train.tsv", 67349, 37569)]
    [InlineData("MRPC", "dev.tsv", 408, 279)]
    [InlineData("MRPC", "train.tsv", 3668, -1)]
    [InlineData("RTE", "dev.tsv", 277, 131)] // label 1 = not_entailment
    [InlineData("RTE", "train.tsv", 2490, 1241)]
    [InlineData("CoLA", "dev.tsv", 1043, 721)]
    [InlineData("CoLA", "train.tsv", 8551, 6023)]
    [InlineData("STS-B", "dev.tsv", 1500, -1)]
    [InlineData("STS-B", "train.tsv", 5749, -1)]
    [InlineData("QNLI", "dev.tsv", 5463, 2761)]
    public void RealGlueFilesLoadWithTheOfficialCounts(string task, string file, int rows, int ones)
    {
        var path = SharedAssets.RequireDirectory($"data/glue/{task}/{file}");
        var examples = GlueReader.Read(GlueTasks.Parse(task), path);
        Assert.Equal(rows, examples.Count);
        if (ones >= 0) Assert.Equal(ones, examples.Count(e => e.Label == 1));
        if (task == "STS-B" && file == "dev.tsv") Assert.Equal(2.364, examples.Average(e => e.Score), 3);
    }
}
