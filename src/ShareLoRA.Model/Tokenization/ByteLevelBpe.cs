using System.Text.Json;
using System.Text.Json.Nodes;

namespace ShareLoRA.Model.Tokenization;

/// <summary>Which special-token convention a byte-level BPE vocabulary follows.</summary>
public enum ByteLevelBpeStyle
{
    /// <summary>GPT-2: &lt;|endoftext|&gt; is BOS, EOS (and nothing is added when encoding).</summary>
    Gpt2,

    /// <summary>RoBERTa: &lt;s&gt; text &lt;/s&gt; added when encoding, &lt;pad&gt; padding, &lt;mask&gt; for masked LM.</summary>
    Roberta,
}

/// <summary>
/// Builds a Hugging Face tokenizer.json equivalent to GPT2TokenizerFast / RobertaTokenizerFast from the classic
/// vocab.json + merges.txt pair, so the Rust tokenizers library (through <see cref="HfTokenizer"/>) does the BPE:
/// model BPE with that vocabulary and merges, ByteLevel pre-tokenizer (GPT-2 regex, no prefix space) and decoder,
/// and for RoBERTa the RobertaProcessing post-processor that wraps a sequence in &lt;s&gt; ... &lt;/s&gt;.
/// </summary>
public static class ByteLevelBpe
{
    public const string VocabFile = "vocab.json";
    public const string MergesFile = "merges.txt";

    /// <summary>
    /// Loads DIR/vocab.json and DIR/merges.txt. The style is <paramref name="style"/>, or inferred: RoBERTa when the
    /// vocabulary holds &lt;s&gt; and &lt;/s&gt;, GPT-2 when it holds &lt;|endoftext|&gt;.
    /// </summary>
    public static HfTokenizer Load(string dir, ByteLevelBpeStyle? style = null)
    {
        var vocabPath = Path.Combine(dir, VocabFile);
        var mergesPath = Path.Combine(dir, MergesFile);
        var vocab = ReadVocab(vocabPath);
        var merges = ReadMerges(mergesPath);
        var chosen = style ?? Infer(vocab, vocabPath);
        var json = TokenizerJson(vocab, merges, chosen, vocabPath);
        int Id(string token) => vocab[token]!.GetValue<int>();
        return chosen == ByteLevelBpeStyle.Roberta
            ? HfTokenizer.FromJson(json, vocabPath, Id("<s>"), Id("</s>"), Id("<pad>"))
            : HfTokenizer.FromJson(json, vocabPath, Id(EndOfText), Id(EndOfText), null);
    }

    private const string EndOfText = "<|endoftext|>";
    private static readonly string[] RobertaSpecials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"];

    private static ByteLevelBpeStyle Infer(JsonObject vocab, string vocabPath) =>
        vocab.ContainsKey("<s>") && vocab.ContainsKey("</s>") ? ByteLevelBpeStyle.Roberta
        : vocab.ContainsKey(EndOfText) ? ByteLevelBpeStyle.Gpt2
        : throw new InvalidDataException($"{vocabPath}: holds neither <s>/</s> (RoBERTa) nor {EndOfText} (GPT-2); give the style explicitly");

    /// <summary>vocab.json: one object from token to id.</summary>
    public static JsonObject ReadVocab(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: vocabulary file not found", path);
        JsonObject vocab;
        try { vocab = JsonNode.Parse(File.ReadAllText(path)) as JsonObject ?? throw new InvalidDataException($"{path}: expected a JSON object of token -> id"); }
        catch (JsonException e) { throw new InvalidDataException($"{path}: not valid JSON ({e.Message.Split('\n')[0]})"); }
        foreach (var (token, id) in vocab)
            if (id is not JsonValue v || !v.TryGetValue<int>(out var i) || i < 0)
                throw new InvalidDataException($"{path}: id of token {JsonSerializer.Serialize(token)} must be a non-negative integer (got {id?.ToJsonString() ?? "null"})");
        return vocab;
    }

    /// <summary>merges.txt: an optional "#version" header, then one "left right" pair per line in priority order.</summary>
    public static List<string> ReadMerges(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: merges file not found", path);
        var merges = new List<string>();
        int lineNumber = 0;
        foreach (var raw in File.ReadLines(path))
        {
            lineNumber++;
            var line = raw.TrimEnd('\r');
            if (line.Length == 0 || (lineNumber == 1 && line.StartsWith("#version", StringComparison.Ordinal))) continue;
            var parts = line.Split(' ');
            if (parts.Length != 2 || parts[0].Length == 0 || parts[1].Length == 0)
                throw new InvalidDataException($"{path}:{lineNumber}: a merge must be two tokens separated by one space (got {JsonSerializer.Serialize(line)})");
            merges.Add(line);
        }
        return merges;
    }

    /// <summary>The tokenizer.json object for this vocabulary, merges and style.</summary>
    public static JsonObject TokenizerJson(JsonObject vocab, IReadOnlyList<string> merges, ByteLevelBpeStyle style, string source = VocabFile)
    {
        var added = new JsonArray();
        var specials = style == ByteLevelBpeStyle.Roberta ? RobertaSpecials : [EndOfText];
        foreach (var token in specials)
        {
            if (!vocab.TryGetPropertyValue(token, out var id) || id is null)
                throw new InvalidDataException($"{source}: special token {token} is missing from the vocabulary");
            added.Add(new JsonObject
            {
                ["id"] = id.GetValue<int>(),
                ["content"] = token,
                ["single_word"] = false,
                ["lstrip"] = token == "<mask>",   // RobertaTokenizerFast: <mask> absorbs the space before it
                ["rstrip"] = false,
                ["normalized"] = style == ByteLevelBpeStyle.Gpt2,
                ["special"] = true,
            });
        }
        return new JsonObject
        {
            ["version"] = "1.0",
            ["truncation"] = null,
            ["padding"] = null,
            ["added_tokens"] = added,
            ["normalizer"] = null,
            ["pre_tokenizer"] = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = true, ["use_regex"] = true },
            ["post_processor"] = style == ByteLevelBpeStyle.Roberta
                ? new JsonObject
                {
                    ["type"] = "RobertaProcessing",
                    ["sep"] = new JsonArray("</s>", vocab["</s>"]!.GetValue<int>()),
                    ["cls"] = new JsonArray("<s>", vocab["<s>"]!.GetValue<int>()),
                    ["trim_offsets"] = true,
                    ["add_prefix_space"] = false,
                }
                : new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = false, ["use_regex"] = true },
            ["decoder"] = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = true, ["use_regex"] = true },
            ["model"] = new JsonObject
            {
                ["type"] = "BPE",
                ["dropout"] = null,
                ["unk_token"] = null,
                ["continuing_subword_prefix"] = "",
                ["end_of_word_suffix"] = "",
                ["fuse_unk"] = false,
                ["byte_fallback"] = false,
                ["vocab"] = vocab.DeepClone(),
                ["merges"] = new JsonArray(merges.Select(m => (JsonNode)m).ToArray()),
            },
        };
    }
}
