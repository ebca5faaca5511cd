using System.Text;

namespace ShareLoRA.Training.Demo;

/// <summary>Text output for the demo assets: UTF-8 without BOM and "\n" line ends on every OS, so files are byte-identical.</summary>
internal static class DemoFiles
{
    private static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false);

    public static void WriteText(string path, string text) =>
        File.WriteAllText(path, text.Replace("\r\n", "\n", StringComparison.Ordinal), Utf8);
}
