using ShareLoRA.Training.Data;
using ShareLoRA.Training.Evaluation;
using Xunit;

namespace ShareLoRA.Training.Tests.Evaluation;

public class CsvReaderTests
{
    private static string[][] Fields(string text) => CsvReader.Parse(text, "t.csv").Select(r => r.Fields.ToArray()).ToArray();

    [Fact]
    public void Plain_records_with_and_without_a_final_line_break()
    {
        Assert.Equal([["a", "b"], ["c", "d"]], Fields("a,b\nc,d\n"));
        Assert.Equal([["a", "b"], ["c", "d"]], Fields("a,b\nc,d"));
        Assert.Equal([["a", "b"], ["c", "d"]], Fields("a,b\r\nc,d\r\n"));
    }

    [Fact]
    public void Quoted_fields_hold_commas_line_breaks_and_doubled_quotes()
    {
        var records = CsvReader.Parse("\"x, y\",\"line1\nline2\",\"say \"\"hi\"\"\"\nnext,\"\"\n", "t.csv");
        Assert.Equal(["x, y", "line1\nline2", "say \"hi\""], records[0].Fields);
        Assert.Equal(["next", ""], records[1].Fields);
        Assert.Equal(1, records[0].Line);
        Assert.Equal(3, records[1].Line); // the quoted line break moved the second record to line 3
    }

    [Fact]
    public void Quoted_crlf_is_kept_and_empty_fields_count()
    {
        Assert.Equal([["a\r\nb", "", "c", ""]], Fields("\"a\r\nb\",,c,\r\n"));
        Assert.Equal([["", ""]], Fields(","));
    }

    [Fact]
    public void A_utf8_bom_is_not_part_of_the_first_field()
    {
        Assert.Equal([["question", "answer"]], Fields("\uFEFFquestion,answer\n"));
    }

    [Theory]
    [InlineData("a,b\n\"open,c\n", "t.csv:2: unterminated quoted field")]
    [InlineData("a,b\nc,d\"e\n", "t.csv:2: a double quote inside an unquoted field")]
    [InlineData("a\n\"x\ny\"z,b\n", "t.csv:3: unexpected character 'z' after a closing quote")]
    public void Malformed_input_names_file_and_line(string text, string expectedStart)
    {
        var e = Assert.Throws<DatasetException>(() => CsvReader.Parse(text, "t.csv"));
        Assert.StartsWith(expectedStart, e.Message);
    }
}
