using ShareLoRA.Training.Data;
using ShareLoRA.Training.Evaluation;
using Xunit;

namespace ShareLoRA.Training.Tests.Evaluation;

public class MmluDataTests
{
    [Fact]
    public void Reformatted_files_with_a_header_and_index_answers()
    {
        using var dir = new TempFolder();
        var path = dir.Write("test/x_test.csv", "question,choice0,choice1,choice2,choice3,answer\n\"What, if\nanything?\",a,b,c,d,2\nQ2,e,f,g,h,0\n");
        var questions = MmluData.ReadFile(path);
        Assert.Equal(2, questions.Count);
        Assert.Equal("What, if\nanything?", questions[0].Question);
        Assert.Equal(["a", "b", "c", "d"], questions[0].Choices);
        Assert.Equal(2, questions[0].Answer);
        Assert.Equal("C", questions[0].AnswerLetter);
        Assert.Equal(path + ":4", questions[1].Origin);
    }

    [Fact]
    public void Original_files_without_a_header_and_letter_answers()
    {
        using var dir = new TempFolder();
        var path = dir.Write("dev/x_dev.csv", "Q1,a,b,c,d,D\nQ2,a,b,c,d,B\n\n");
        Assert.Equal([3, 1], MmluData.ReadFile(path).Select(q => q.Answer));
    }

    [Fact]
    public void Wrong_field_count_and_bad_answer_name_file_and_line()
    {
        using var dir = new TempFolder();
        var path = dir.Write("x.csv", "question,a,b,c,d,answer\n\"multi\nline\",a,b,c,d,1\nQ,a,b,c,1\n");
        var e = Assert.Throws<DatasetException>(() => MmluData.ReadFile(path));
        Assert.Equal($"{path}:4: expected 6 fields (question, 4 choices, answer), found 5", e.Message);

        var bad = dir.Write("y.csv", "Q,a,b,c,d,E\n");
        Assert.Equal($"{bad}:1: answer must be A-D or 0-3, found \"E\"", Assert.Throws<DatasetException>(() => MmluData.ReadFile(bad)).Message);
    }

    [Fact]
    public void Subjects_come_from_test_files_in_ordinal_order()
    {
        using var dir = new TempFolder();
        dir.Write("test/b_subject_test.csv", "");
        dir.Write("test/a_test.csv", "");
        dir.Write("test/notes.txt", "");
        Assert.Equal(["a", "b_subject"], MmluData.Subjects(dir.Path));
        Assert.Equal("high school physics", MmluData.SubjectName("high_school_physics"));
    }
}
