using System.Text.Json;
using System.Text.Json.Nodes;
using NativeTokenizer = Tokenizers.DotNet.Tokenizer;

namespace ShareLoRA.Model.Tokenization;

/// <summary>
/// A Hugging Face tokenizer.json run by the Rust `tokenizers` library (through Tokenizers.DotNet): Llama-2 style
/// BPE with byte fallback and Llama-3 / GPT-2 style byte-level BPE alike. BOS/EOS/PAD ids come from
/// tokenizer_config.json, special_tokens_map.json or config.json beside the file, when present.
/// </summary>
public sealed class HfTokenizer : ITextTokenizer, IDisposable
{
    // The wrapper always adds the post-processor's special tokens when encoding and always skips special tokens
    // when decoding. The other two behaviours come from variants of the same file: one without a post-processor,
    // one whose added tokens are not marked special.
    private readonly NativeTokenizer _tokenizer;
    private readonly Lazy<NativeTokenizer> _withoutPostProcessor;
    private readonly Lazy<NativeTokenizer> _keepingSpecialTokens;
    private readonly IReadOnlyDictionary<string, int> _addedTokens;

    public string TokenizerJsonPath { get; }
    public int? BosId { get; }
    public int? EosId { get; }
    public int? PadId { get; }
    public int VocabSize { get; }

    private HfTokenizer(string path, JsonObject json, NativeTokenizer tokenizer, IReadOnlyDictionary<string, int> addedTokens,
        int vocabSize, int? bos, int? eos, int? pad)
    {
        TokenizerJsonPath = path;
        _tokenizer = tokenizer;
        _addedTokens = addedTokens;
        VocabSize = vocabSize;
        BosId = bos;
        EosId = eos;
        PadId = pad;
        _withoutPostProcessor = new(() =>
        {
            var copy = (JsonObject)json.DeepClone();
            copy["post_processor"] = null;
            return LoadVariant(copy);
        });
        _keepingSpecialTokens = new(() =>
        {
            var copy = (JsonObject)json.DeepClone();
            if (copy["added_tokens"] is JsonArray added)
                foreach (var t in added.OfType<JsonObject>()) t["special"] = false;
            return LoadVariant(copy);
        });
    }

    /// <summary>
    /// Loads DIR/tokenizer.json, or the given tokenizer.json file. A directory without tokenizer.json but with
    /// vocab.json and merges.txt (GPT-2 / RoBERTa byte-level BPE) is built in memory by <see cref="ByteLevelBpe"/>.
    /// </summary>
    public static HfTokenizer Load(string pathToDirOrTokenizerJson)
    {
        if (Directory.Exists(pathToDirOrTokenizerJson)
            && !File.Exists(Path.Combine(pathToDirOrTokenizerJson, "tokenizer.json"))
            && File.Exists(Path.Combine(pathToDirOrTokenizerJson, ByteLevelBpe.VocabFile))
            && File.Exists(Path.Combine(pathToDirOrTokenizerJson, ByteLevelBpe.MergesFile)))
            return ByteLevelBpe.Load(pathToDirOrTokenizerJson);

        var path = Directory.Exists(pathToDirOrTokenizerJson)
            ? Path.Combine(pathToDirOrTokenizerJson, "tokenizer.json")
            : pathToDirOrTokenizerJson;
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: tokenizer file not found", path);

        JsonObject json;
        try
        {
            json = JsonNode.Parse(File.ReadAllText(path)) as JsonObject ?? throw new InvalidDataException($"{path}: expected a JSON object");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not valid JSON ({e.Message})");
        }
        NativeTokenizer native;
        try { native = new NativeTokenizer(path); }
        catch (Exception e) { throw new InvalidDataException($"{path}: the tokenizers library cannot load it ({e.Message})"); }
        return Create(path, json, native, Path.GetDirectoryName(Path.GetFullPath(path))!, specialIds: null);
    }

    /// <summary>
    /// A tokenizer from tokenizer.json content built in memory (e.g. from vocab.json + merges.txt).
    /// <paramref name="sourceName"/> names it in errors and <see cref="TokenizerJsonPath"/>; the special ids are given, not looked up.
    /// </summary>
    public static HfTokenizer FromJson(JsonObject json, string sourceName, int? bos, int? eos, int? pad)
    {
        NativeTokenizer native;
        try { native = LoadVariant(json); }
        catch (Exception e) { throw new InvalidDataException($"{sourceName}: the tokenizers library cannot load the generated tokenizer.json ({e.Message})"); }
        return Create(sourceName, json, native, sidecarDir: null, specialIds: (bos, eos, pad));
    }

    private static HfTokenizer Create(string path, JsonObject json, NativeTokenizer native, string? sidecarDir, (int? Bos, int? Eos, int? Pad)? specialIds)
    {
        var added = new Dictionary<string, int>();
        int maxId = -1;
        if (json["added_tokens"] is JsonArray addedTokens)
            foreach (var t in addedTokens.OfType<JsonObject>())
                if (t["content"]?.GetValue<string>() is { } content && t["id"] is { } idNode)
                {
                    int id = idNode.GetValue<int>();
                    added[content] = id;
                    maxId = Math.Max(maxId, id);
                }
        var vocab = new Dictionary<string, int>();
        switch (json["model"]?["vocab"])
        {
            case JsonObject map:
                foreach (var (piece, id) in map)
                    if (id != null) { vocab[piece] = id.GetValue<int>(); maxId = Math.Max(maxId, vocab[piece]); }
                break;
            case JsonArray list:   // Unigram: [[piece, score], ...]
                maxId = Math.Max(maxId, list.Count - 1);
                break;
        }

        if (specialIds is { } given)
            return new HfTokenizer(path, json, native, added, maxId + 1, given.Bos, given.Eos, given.Pad);

        var dir = sidecarDir!;
        int? Lookup(string? token) => token == null ? null
            : added.TryGetValue(token, out var a) ? a : vocab.TryGetValue(token, out var v) ? v : null;
        var tokenizerConfig = ReadJson(Path.Combine(dir, "tokenizer_config.json"));
        var specialMap = ReadJson(Path.Combine(dir, "special_tokens_map.json"));
        var modelConfig = ReadJson(Path.Combine(dir, "config.json"));
        int? Resolve(string key) =>
            Lookup(TokenText(tokenizerConfig?[key + "_token"])) ?? Lookup(TokenText(specialMap?[key + "_token"])) ?? FirstId(modelConfig?[key + "_token_id"]);

        return new HfTokenizer(path, json, native, added, maxId + 1, Resolve("bos"), Resolve("eos"), Resolve("pad"));
    }

    private static JsonObject? ReadJson(string path)
    {
        if (!File.Exists(path)) return null;
        try { return JsonNode.Parse(File.ReadAllText(path)) as JsonObject; }
        catch (JsonException e) { throw new InvalidDataException($"{path}: not valid JSON ({e.Message})"); }
    }

    // A special token is written either as its text or as {"content": text, ...}.
    private static string? TokenText(JsonNode? node) => node switch
    {
        JsonValue v when v.TryGetValue<string>(out var s) => s,
        JsonObject o => o["content"]?.GetValue<string>(),
        _ => null,
    };

    private static int? FirstId(JsonNode? node) => node switch
    {
        JsonValue v when v.TryGetValue<int>(out var i) => i,
        JsonArray a when a.Count > 0 && a[0] is JsonValue first && first.TryGetValue<int>(out var i) => i,
        _ => null,
    };

    private static NativeTokenizer LoadVariant(JsonObject json)
    {
        var tmp = Path.Combine(Path.GetTempPath(), $"sharelora-tokenizer-{Guid.NewGuid():N}.json");
        File.WriteAllText(tmp, json.ToJsonString());
        try { return new NativeTokenizer(tmp); }
        finally { File.Delete(tmp); }
    }

    /// <summary>Id of a special or added token by its text (e.g. "&lt;s&gt;"), or null.</summary>
    public int? AddedTokenId(string content) => _addedTokens.TryGetValue(content, out var id) ? id : null;

    public IReadOnlyList<int> Encode(string text, bool addSpecialTokens = true)
    {
        var native = addSpecialTokens ? _tokenizer : _withoutPostProcessor.Value;
        return native.Encode(text).Select(i => checked((int)i)).ToArray();
    }

    public string Decode(IReadOnlyList<int> ids, bool skipSpecialTokens = true)
    {
        if (ids.Count == 0) return "";
        foreach (var id in ids)
            if (id < 0 || id >= VocabSize) throw new ArgumentException($"token id {id} is outside the vocabulary [0, {VocabSize})");
        var native = skipSpecialTokens ? _tokenizer : _keepingSpecialTokens.Value;
        return native.Decode(ids.Select(i => (uint)i).ToArray());
    }

    public void Dispose()
    {
        _tokenizer.Dispose();
        if (_withoutPostProcessor.IsValueCreated) _withoutPostProcessor.Value.Dispose();
        if (_keepingSpecialTokens.IsValueCreated) _keepingSpecialTokens.Value.Dispose();
    }
}
