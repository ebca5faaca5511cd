using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace ShareLoRA.Training.Demo;

/// <summary>
/// The demo's own Llama-2-style tokenizer: &lt;unk&gt;=0, &lt;s&gt;=1, &lt;/s&gt;=2, then the 256 byte-fallback tokens
/// "&lt;0x00&gt;".."&lt;0xFF&gt;", then printable ASCII characters and learned BPE merges. Any character without a
/// token falls back to its UTF-8 bytes, so every text round-trips. There is no normalizer (unlike Llama-2, no "▁"
/// prefix), which keeps decoding exact; the post-processor adds BOS as Llama-2's does.
/// </summary>
public sealed class DemoTokenizer
{
    public const int UnkId = 0;
    public const int BosId = 1;
    public const int EosId = 2;
    public const int FirstByteId = 3;

    /// <summary>Characters that get their own token (merges build on them); '&lt;' and '&gt;' are left to byte
    /// fallback so no merged token can ever read like a "&lt;0xNN&gt;" byte token.</summary>
    public static readonly IReadOnlySet<char> Alphabet = BuildAlphabet();

    private static readonly JsonSerializerOptions Indented = new()
    {
        WriteIndented = true,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public IReadOnlyList<(string Left, string Right)> Merges { get; }
    public IReadOnlyList<string> Vocabulary { get; }
    public int VocabSize => Vocabulary.Count;

    private DemoTokenizer(IReadOnlyList<(string, string)> merges)
    {
        Merges = merges;
        var vocab = new List<string> { "<unk>", "<s>", "</s>" };
        for (var b = 0; b < 256; b++) vocab.Add(ByteToken(b));
        vocab.AddRange(Alphabet.Order().Select(c => c.ToString()));
        foreach (var (left, right) in merges)
        {
            var merged = left + right;
            if (!vocab.Contains(merged)) vocab.Add(merged);
        }
        Vocabulary = vocab;
    }

    /// <summary>Pure byte-level plus ASCII characters, no merges.</summary>
    public static DemoTokenizer ByteLevel() => new([]);

    /// <summary>Learns up to <paramref name="merges"/> merges over <paramref name="corpus"/> (deterministic).</summary>
    public static DemoTokenizer Train(IEnumerable<string> corpus, int merges) =>
        new(BpeMergeTrainer.Train(corpus, new HashSet<char>(Alphabet), merges));

    public static string ByteToken(int b) => "<0x" + b.ToString("X2", CultureInfo.InvariantCulture) + ">";

    /// <summary>Writes tokenizer.json, tokenizer_config.json and special_tokens_map.json into <paramref name="dir"/>.</summary>
    public void Save(string dir)
    {
        Directory.CreateDirectory(dir);
        DemoFiles.WriteText(Path.Combine(dir, "tokenizer.json"), TokenizerJson().ToJsonString(Indented));
        DemoFiles.WriteText(Path.Combine(dir, "tokenizer_config.json"), TokenizerConfigJson().ToJsonString(Indented));
        DemoFiles.WriteText(Path.Combine(dir, "special_tokens_map.json"), SpecialTokensMapJson().ToJsonString(Indented));
    }

    private JsonObject TokenizerJson()
    {
        var vocab = new JsonObject();
        for (var i = 0; i < Vocabulary.Count; i++) vocab[Vocabulary[i]] = i;
        // Merges as [left, right] pairs: tokens may contain spaces, which the older "left right" string form cannot hold.
        var merges = new JsonArray(Merges.Select(m => (JsonNode)new JsonArray(m.Left, m.Right)).ToArray());
        return new JsonObject
        {
            ["version"] = "1.0",
            ["truncation"] = null,
            ["padding"] = null,
            ["added_tokens"] = new JsonArray(AddedToken(UnkId, "<unk>"), AddedToken(BosId, "<s>"), AddedToken(EosId, "</s>")),
            ["normalizer"] = null,
            ["pre_tokenizer"] = null,
            ["post_processor"] = new JsonObject
            {
                ["type"] = "TemplateProcessing",
                ["single"] = new JsonArray(Special("<s>"), Sequence("A")),
                ["pair"] = new JsonArray(Special("<s>"), Sequence("A"), Special("<s>"), Sequence("B")),
                ["special_tokens"] = new JsonObject
                {
                    ["<s>"] = new JsonObject { ["id"] = "<s>", ["ids"] = new JsonArray(BosId), ["tokens"] = new JsonArray("<s>") },
                },
            },
            ["decoder"] = new JsonObject
            {
                ["type"] = "Sequence",
                ["decoders"] = new JsonArray(new JsonObject { ["type"] = "ByteFallback" }, new JsonObject { ["type"] = "Fuse" }),
            },
            ["model"] = new JsonObject
            {
                ["type"] = "BPE",
                ["dropout"] = null,
                ["unk_token"] = "<unk>",
                ["continuing_subword_prefix"] = null,
                ["end_of_word_suffix"] = null,
                ["fuse_unk"] = true,
                ["byte_fallback"] = true,
                ["ignore_merges"] = false,
                ["vocab"] = vocab,
                ["merges"] = merges,
            },
        };
    }

    private static JsonObject AddedToken(int id, string content) => new()
    {
        ["id"] = id,
        ["content"] = content,
        ["single_word"] = false,
        ["lstrip"] = false,
        ["rstrip"] = false,
        ["normalized"] = false,
        ["special"] = true,
    };

    private static JsonObject Special(string id) =>
        new() { ["SpecialToken"] = new JsonObject { ["id"] = id, ["type_id"] = 0 } };

    private static JsonObject Sequence(string id) =>
        new() { ["Sequence"] = new JsonObject { ["id"] = id, ["type_id"] = 0 } };

    private static JsonObject TokenizerConfigJson() => new()
    {
        ["add_bos_token"] = true,
        ["add_eos_token"] = false,
        ["bos_token"] = "<s>",
        ["eos_token"] = "</s>",
        ["unk_token"] = "<unk>",
        ["pad_token"] = null,
        ["model_max_length"] = 512,
        ["clean_up_tokenization_spaces"] = false,
        ["tokenizer_class"] = "LlamaTokenizerFast",
    };

    private static JsonObject SpecialTokensMapJson() => new()
    {
        ["bos_token"] = "<s>",
        ["eos_token"] = "</s>",
        ["unk_token"] = "<unk>",
    };

    private static IReadOnlySet<char> BuildAlphabet()
    {
        var set = new SortedSet<char> { '\n', '\t' };
        for (var c = ' '; c <= '~'; c++)
            if (c != '<' && c != '>') set.Add(c);
        return set;
    }
}
