using ShareLoRA.Training.Data;
using ShareLoRA.Training.Tasks.E2e;
using ShareLoRA.TestSupport;
using Xunit;

namespace ShareLoRA.Training.Tests.Tasks;

public sealed class E2eReaderTests
{
    [Fact]
    public void CsvRowsGroupByMrInOrderOfFirstAppearance()
    {
        var text = "mr,ref\n" +
                   "\"name[A], food[Thai]\",\"A serves Thai, cheaply.\"\n" +
                   "\"name[B], area[riverside]\",B is by the river.\n" +
                   "\"name[A], food[Thai]\",Thai food at A.\n";
        var instances = E2eReader.ParseCsv(text, "dev.csv");
        Assert.Equal(2, instances.Count);
        Assert.Equal("name[A], food[Thai]", instances[0].Mr);
        Assert.Equal(["A serves Thai, cheaply.", "Thai food at A."], instances[0].References);
        Assert.Equal(2, instances[0].Line);
        Assert.Equal(["B is by the river."], instances[1].References);
    }

    [Fact]
    public void TestsetLayoutHasOnlyMrs()
    {
        var instances = E2eReader.ParseCsv("MR\n\"name[A], eatType[pub]\"\n\"name[B], eatType[pub]\"\n", "testset.csv");
        Assert.Equal(2, instances.Count);
        Assert.All(instances, x => Assert.Empty(x.References));
    }

    [Fact]
    public void BadHeaderOrColumnCountNamesTheLine()
    {
        var header = Assert.Throws<DatasetException>(() => E2eReader.ParseCsv("meaning,text\na,b\n", "x.csv"));
        Assert.StartsWith("x.csv:1: expected the header 'mr,ref'", header.Message);
        var columns = Assert.Throws<DatasetException>(() => E2eReader.ParseCsv("mr,ref\n\"name[A]\",r\n\"name[B]\",r,extra\n", "x.csv"));
        Assert.Equal("x.csv:3: expected 2 column(s), found 3", columns.Message);
    }

    [Fact]
    public void MisencodedPoundSignsAreRepairedAsTheOfficialScorerDoes()
    {
        var instances = E2eReader.ParseCsv("mr,ref\n\"name[A], priceRange[Â£20-25]\",It costs Ł20.\n", "x.csv");
        Assert.Equal("name[A], priceRange[£20-25]", instances[0].Mr);
        Assert.Equal("It costs £20.", instances[0].References[0]);
    }

    [Fact]
    public void BlankLineSeparatedReferenceGroups()
    {
        var groups = E2eReader.ParseReferenceGroups("a one\na two\n\nb one\n\nc one\nc two\nc three\n", "refs.txt");
        Assert.Equal([2, 1, 3], groups.Select(g => g.Count));
        // Without any blank line the file is single-reference: one instance per line.
        Assert.Equal([["x"], ["y"]], E2eReader.ParseReferenceGroups("x\ny\n", "refs.txt"));
        var error = Assert.Throws<DatasetException>(() => E2eReader.ParseReferenceGroups("a\n\n\nb\n", "refs.txt"));
        Assert.StartsWith("refs.txt:3: empty reference group", error.Message);
    }

    [Fact]
    public void LoraTextGroupsByContext()
    {
        var text = "name : A | Type : pub||A is a pub . \nname : A | Type : pub||The pub A . \nname : B||B . \n";
        var instances = E2eReader.ParseLoraText(text, "valid.txt");
        Assert.Equal(["name : A | Type : pub", "name : B"], instances.Select(x => x.Mr));
        Assert.Equal(["A is a pub .", "The pub A ."], instances[0].References);
        Assert.Throws<DatasetException>(() => E2eReader.ParseLoraText("no separator\n", "valid.txt"));
    }

    [Fact]
    public void MrLinearisationFollowsLorasProcessedText()
    {
        var mr = "name[The Vaults], eatType[pub], priceRange[£20-25], customer rating[5 out of 5], familyFriendly[no], near[Café Adriatic]";
        Assert.Equal("name : The Vaults | Type : pub | price : £ 20 - 25 | customer rating : 5 out of 5 | family friendly : no | near : Café Adriatic",
            E2eMeaningRepresentation.Linearize(mr));
        Assert.Equal(new E2eSlot("customer rating", "5 out of 5"), E2eMeaningRepresentation.Parse(mr)[3]);
        Assert.Throws<DatasetException>(() => E2eMeaningRepresentation.Parse("name[A], eatType pub"));
        var pairs = E2eMeaningRepresentation.TrainingPairs([new E2eInstance(2, "name[A], eatType[pub]", ["A is a pub.", "Pub A."])]);
        Assert.Equal([new E2eTrainingPair("name : A | Type : pub", "A is a pub."), new E2eTrainingPair("name : A | Type : pub", "Pub A.")], pairs);
    }

    [SkippableTheory]
    [InlineData("devset.csv", 547, 4672)]
    [InlineData("testset_w_refs.csv", 630, 4693)]
    [InlineData("testset.csv", 630, 0)]
    public void RealOfficialCsvsHaveTheOfficialCounts(string file, int mrs, int refs)
    {
        var instances = E2eReader.ReadCsv(SharedAssets.RequireDirectory("data/e2e/" + file));
        Assert.Equal(mrs, instances.Count);
        Assert.Equal(refs, instances.Sum(x => x.References.Count));
    }

    [SkippableTheory]
    [InlineData("devset.csv", "lora-processed/valid.txt")]
    [InlineData("testset_w_refs.csv", "lora-processed/test.txt")]
    public void LinearisedOfficialMrsEqualLorasContextsLineByLine(string csv, string lora)
    {
        var official = E2eReader.ReadCsv(SharedAssets.RequireDirectory("data/e2e/" + csv));
        var processed = E2eReader.ReadLoraText(SharedAssets.RequireDirectory("data/e2e/" + lora));
        Assert.Equal(official.Count, processed.Count);
        for (int i = 0; i < official.Count; i++)
        {
            Assert.Equal(processed[i].Mr, E2eMeaningRepresentation.Linearize(official[i].Mr));
            Assert.Equal(official[i].References.Count, processed[i].References.Count);
        }
    }
}
