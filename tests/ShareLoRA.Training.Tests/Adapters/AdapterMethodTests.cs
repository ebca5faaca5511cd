using Xunit;
using ShareLoRA.Training.Adapters;

namespace ShareLoRA.Training.Tests.Adapters;

public class AdapterMethodTests
{
    [Theory]
    [InlineData("lora", AdapterMethod.Lora)]
    [InlineData("share-a", AdapterMethod.ShareA)]
    [InlineData("share-b", AdapterMethod.ShareB)]
    [InlineData("share-ab", AdapterMethod.ShareAB)]
    [InlineData(" Share_AB ", AdapterMethod.ShareAB)]
    [InlineData("sharea", AdapterMethod.ShareA)]
    public void Parse_accepts_job_file_names(string text, AdapterMethod expected) =>
        Assert.Equal(expected, AdapterMethods.Parse(text));

    [Fact]
    public void Name_round_trips_through_parse()
    {
        foreach (var m in AdapterMethods.All)
            Assert.Equal(m, AdapterMethods.Parse(m.Name()));
        Assert.Equal(["lora", "share-a", "share-b", "share-ab"], AdapterMethods.All.Select(m => m.Name()));
    }

    [Fact]
    public void Unknown_name_gives_one_line_listing_the_valid_ones()
    {
        var e = Assert.Throws<ArgumentException>(() => AdapterMethods.Parse("dora", "--method"));
        Assert.Equal("--method must be one of lora, share-a, share-b, share-ab (got 'dora')", e.Message);
    }

    [Fact]
    public void Shares_a_and_b_follow_the_method_table()
    {
        Assert.Equal([false, true, false, true], AdapterMethods.All.Select(m => m.SharesA()));
        Assert.Equal([false, false, true, true], AdapterMethods.All.Select(m => m.SharesB()));
    }
}
