using ShareLoRA.Cli.Formatting;
using Xunit;

namespace ShareLoRA.Cli.Tests.Formatting;

public class ByteSizeTests
{
    [Theory]
    [InlineData("80GB", 80_000_000_000L)]
    [InlineData("80GiB", 80L << 30)]
    [InlineData("24G", 24L << 30)]
    [InlineData("24g", 24L << 30)]
    [InlineData("1073741824", 1073741824L)]
    [InlineData("512B", 512L)]
    [InlineData("1.5 GiB", 3L << 29)]
    [InlineData("40gb", 40_000_000_000L)]
    [InlineData("16MiB", 16L << 20)]
    [InlineData("100MB", 100_000_000L)]
    [InlineData("4K", 4096L)]
    [InlineData("2KB", 2000L)]
    [InlineData("1TiB", 1L << 40)]
    [InlineData(" 8GB ", 8_000_000_000L)]
    public void Parses_SI_IEC_single_letter_and_plain_bytes(string text, long expected) =>
        Assert.Equal(expected, ByteSize.Parse(text, "--device-mem"));

    [Theory]
    [InlineData("")]
    [InlineData("GB")]
    [InlineData("80XB")]
    [InlineData("-8GB")]
    [InlineData("0")]
    [InlineData("0GB")]
    [InlineData("eighty")]
    [InlineData("80 G B")]
    [InlineData("1e9")]
    [InlineData("99999999999TiB")]
    public void Bad_sizes_name_the_option_in_one_line(string text)
    {
        var e = Assert.Throws<UserError>(() => ByteSize.Parse(text, "--device-mem"));
        Assert.Equal($"--device-mem: expected a size such as 80GB, 80GiB, 24G or 1073741824 bytes (got '{text}')", e.Message);
    }

    [Theory]
    [InlineData(0L, "0 B")]
    [InlineData(1023L, "1023 B")]
    [InlineData(4096L, "4.00 KiB")]
    [InlineData(16L << 20, "16.0 MiB")]
    [InlineData(80_000_000_000L, "74.5 GiB")]
    [InlineData(131L << 30, "131 GiB")]
    [InlineData((1L << 30) - 1, "1.00 GiB")]
    [InlineData(3L << 40, "3.00 TiB")]
    public void Formats_in_IEC_units_with_three_significant_digits(long bytes, string expected) =>
        Assert.Equal(expected, ByteSize.Format(bytes));
}
