using ShareLoRA.Training.Data;
using ShareLoRA.TestSupport;
using Xunit;

namespace ShareLoRA.Training.Tests.Data;

public sealed class DatasetReaderTests : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    [Fact]
    public void AlpacaJsonlReadsRecordsIgnoresExtraFieldsAndBlankLines()
    {
        var path = _folder.Write("train.jsonl", """
            {"status": "ok", "instruction": "Add.", "input": "1 2", "output": "3", "other": {"x": 1}}

            {"instruction": "Greet.", "output": "Hi"}
            {"instruction": "Null input.", "input": null, "output": "ok"}

            """);
        var file = DatasetReader.Read(path);
        Assert.Equal("alpaca", file.Format);
        Assert.Equal(0, file.SkippedRecords);
        Assert.Equal(
            [
                new AlpacaExample("Add.", "1 2", "3", $"{path}:1"),
                new AlpacaExample("Greet.", "", "Hi", $"{path}:3"),
                new AlpacaExample("Null input.", "", "ok", $"{path}:4"),
            ],
            file.Examples);
    }

    [Fact]
    public void AlpacaJsonArrayReadsRecordsWithTheirLines()
    {
        var path = _folder.Write("train.json", """
            [
              {"instruction": "A", "input": "", "output": "a"},
              {
                "instruction": "B",
                "output": "b"
              }
            ]
            """);
        var file = DatasetReader.Read(path);
        Assert.Equal([new AlpacaExample("A", "", "a", $"{path}:2"), new AlpacaExample("B", "", "b", $"{path}:3")], file.Examples);
    }

    [Fact]
    public void TextJsonlIsDetectedAndRead()
    {
        var path = _folder.Write("text.jsonl", "{\"text\": \"Once upon a time\"}\n{\"text\": \"The end.\", \"id\": 2}\n");
        var file = DatasetReader.Read(path);
        Assert.Equal("text", file.Format);
        Assert.Equal([new TextExample("Once upon a time", $"{path}:1"), new TextExample("The end.", $"{path}:2")], file.Examples);
    }

    [Fact]
    public void ExplicitFormatWinsOverContent()
    {
        var path = _folder.Write("both.jsonl", "{\"text\": \"t\", \"instruction\": \"i\", \"output\": \"o\"}\n");
        Assert.IsType<TextExample>(Assert.Single(DatasetReader.Read(path, "text").Examples));
        Assert.IsType<AlpacaExample>(Assert.Single(DatasetReader.Read(path, "alpaca").Examples));
    }

    [Theory]
    [InlineData("{\"instruction\": \"x\", \"output\": ", "not valid JSON (")]
    [InlineData("{\"input\": \"x\", \"output\": \"y\", \"text2\": 1}", "missing field 'instruction'")]
    [InlineData("{\"instruction\": \"x\"}", "missing field 'output'")]
    [InlineData("{\"instruction\": \"x\", \"output\": 42}", "field 'output' must be a string (got number)")]
    [InlineData("[1, 2]", "expected a JSON object { ... } (got array)")]
    public void MalformedLineNamesFileAndLine(string badLine, string reason)
    {
        var path = _folder.Write("train.jsonl", "{\"instruction\": \"a\", \"output\": \"b\"}\n" + badLine + "\n{\"instruction\": \"c\", \"output\": \"d\"}\n");
        var e = Assert.Throws<DatasetException>(() => DatasetReader.Read(path, "alpaca"));
        Assert.StartsWith($"{path}:2: {reason}", e.Message);
        Assert.DoesNotContain("\n", e.Message);
    }

    [Fact]
    public void UnknownShapeUnderAutoFormatAsksForDataFormat()
    {
        var path = _folder.Write("train.jsonl", "{\"prompt\": \"a\", \"completion\": \"b\"}\n");
        var e = Assert.Throws<DatasetException>(() => DatasetReader.Read(path));
        Assert.Equal($"{path}:1: cannot tell the format: expected a field 'instruction' (alpaca) or 'text'; or set data.format", e.Message);
    }

    [Fact]
    public void SkipModeSkipsAndCountsMalformedLines()
    {
        var path = _folder.Write("train.jsonl", """
            {"instruction": "a", "output": "b"}
            not json at all
            {"instruction": "c"}
            {"instruction": "e", "output": "f"}
            """);
        var file = DatasetReader.Read(path, skipBadLines: true);
        Assert.Equal(2, file.SkippedRecords);
        Assert.Equal(["a", "e"], file.Examples.Cast<AlpacaExample>().Select(e => e.Instruction));
        Assert.StartsWith($"{path}:2: not valid JSON (", file.Problems[0]);
        Assert.Equal($"{path}:3: missing field 'output'", file.Problems[1]);
    }

    [Fact]
    public void JsonArrayElementErrorsNameTheElementsLineAndCanBeSkipped()
    {
        var path = _folder.Write("train.json", "[\n  {\"instruction\": \"a\", \"output\": \"b\"},\n  {\"instruction\": \"c\"},\n  7\n]\n");
        var e = Assert.Throws<DatasetException>(() => DatasetReader.Read(path));
        Assert.Equal($"{path}:3: missing field 'output'", e.Message);
        var file = DatasetReader.Read(path, skipBadLines: true);
        Assert.Equal(2, file.SkippedRecords);
        Assert.Equal($"{path}:4: expected a JSON object {{ ... }} as array element", file.Problems[1]);
        Assert.Single(file.Examples);
    }

    [Fact]
    public void JsonArraySyntaxErrorFailsEvenInSkipMode()
    {
        var path = _folder.Write("train.json", "[\n  {\"instruction\": \"a\", \"output\": \"b\"},\n  {\"instruction\" \"c\"}\n]\n");
        var e = Assert.Throws<DatasetException>(() => DatasetReader.Read(path, skipBadLines: true));
        Assert.StartsWith($"{path}:3: not valid JSON (", e.Message);
    }

    [Fact]
    public void MissingFileIsAOneLineError()
    {
        var path = System.IO.Path.Combine(_folder.Path, "absent.jsonl");
        var e = Assert.Throws<DatasetException>(() => DatasetReader.Read(path));
        Assert.StartsWith($"{path}: cannot read the data file (", e.Message);
    }

    [SkippableFact]
    public void RealAlpacaLibreJsonlReadsAllRecords()
    {
        var path = SharedAssets.RequireDirectory("data/alpaca-libre/alpaca_libre_tasks_v3.jsonl");
        var file = DatasetReader.Read(path);
        Assert.Equal("alpaca", file.Format);
        Assert.Equal(1205, file.Examples.Count);
        var first = (AlpacaExample)file.Examples[0];
        Assert.Equal("Rewrite the following sentence in the passive voice.", first.Instruction);
        Assert.Equal("Hard study was done by the students for the test.\n\n\n", first.Output);
    }

    [SkippableFact]
    public void RealAlpacaEnDemoJsonArrayReadsAllRecords()
    {
        var path = SharedAssets.RequireDirectory("data/alpaca-en-demo/alpaca_en_demo.json");
        var file = DatasetReader.Read(path);
        Assert.Equal(999, file.Examples.Count);
        Assert.Equal("Describe a process of making crepes.", ((AlpacaExample)file.Examples[0]).Instruction);
        Assert.Equal($"{path}:2", file.Examples[0].Origin);
    }
}
