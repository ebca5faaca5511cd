using System.CommandLine;
using ShareLoRA.Cluster.Config;
using ShareLoRA.Cluster.Evaluation;
using ShareLoRA.Model.Adapters;
using ShareLoRA.Model.Config;
using ShareLoRA.Model.Llama;
using ShareLoRA.Model.Tokenization;
using ShareLoRA.Training.Evaluation;

namespace ShareLoRA.Cli.Commands;

/// <summary>
/// The model options every `sharelora eval` subcommand shares: --model and --adapter, and --seed (with --stages, --cert,
/// --ca) to run the same evaluation on the model split across a cluster's workers instead of in this process.
/// </summary>
internal sealed class EvalModelArguments
{
    public Option<string> Model { get; } =
        new("--model") { Description = "Hugging Face model directory (config.json, *.safetensors, tokenizer.json)", Required = true };

    public Option<string?> Adapter { get; } = ModelArguments.AdapterOption();

    public Option<string?> Seed { get; } = new("--seed")
    {
        Description = "HOST:PORT of a running cluster's seed: evaluate through the cluster, the model split into forward-only stages on its " +
            "workers (same numbers as in this process). --model and --adapter must exist at the same paths on the workers; this process " +
            "reads only config.json and the tokenizer. Without --seed the model runs here.",
    };

    public Option<int?> Stages { get; } = new("--stages")
    {
        Description = "With --seed: split the model over at most N Up workers (default: every Up worker, at most one per layer)",
    };

    public Option<string?> Cert { get; }
    public Option<string?> Ca { get; }

    public EvalModelArguments()
    {
        var (cert, ca, _) = NodeCommand.SecurityOptions();
        cert.Description = "With --seed on a TLS cluster: this client's certificate (.pfx from `sharelora certs issue`), as for submit";
        ca.Description = "With --seed on a TLS cluster: the cluster CA certificate (ca.crt), as for submit";
        (Cert, Ca) = (cert, ca);
    }

    public IEnumerable<Option> All => [Model, Adapter, Seed, Stages, Cert, Ca];

    /// <summary>The model to evaluate (here or through the cluster) and the model directory's tokenizer.</summary>
    public EvalModel Open(ParseResult parse)
    {
        var dir = parse.GetValue(Model)!;
        if (!Directory.Exists(dir)) throw new UserError($"--model: directory not found: {dir}");
        var adapterDir = parse.GetValue(Adapter);
        if (adapterDir is not null && !Directory.Exists(adapterDir)) throw new UserError($"--adapter: directory not found: {adapterDir}");
        var stages = parse.GetValue(Stages);
        if (stages is < 1) throw new UserError($"--stages must be >= 1 (got {stages})");
        var seedText = parse.GetValue(Seed);
        if (seedText is null)
        {
            if (stages is not null) throw new UserError("--stages needs --seed (it splits the model over a cluster's workers)");
            return Local(dir, adapterDir);
        }
        var seed = HostPort.Parse(seedText, "--seed");
        var tls = NodeCommand.ClientTls(parse, Cert, Ca);
        var configFile = Path.Combine(dir, "config.json");
        if (!File.Exists(configFile)) throw new UserError($"--model: {configFile} not found");
        var config = LlamaConfig.Load(configFile);
        var tokenizer = RequireTokenizer(dir);
        try
        {
            // Resolved here: the workers read the same absolute paths.
            var adapter = adapterDir is null ? null : Path.GetFullPath(AdapterDirectory.Resolve(adapterDir));
            var remote = ClusterEvaluationModel.OpenAsync(seed, Path.GetFullPath(dir), adapter, stages, config, tls).GetAwaiter().GetResult();
            Console.Error.WriteLine($"evaluating through the cluster at {seed}: " + string.Join(", ",
                remote.Stages.Select((s, i) => $"stage {i} layers {s.FirstLayer}-{s.EndLayer - 1} on {s.Worker}")));
            return new EvalModel(remote, tokenizer, [remote, tokenizer]);
        }
        catch (Exception e) when (e is ClusterEvaluationException or FileNotFoundException)
        {
            tokenizer.Dispose();
            throw new UserError(e.Message);
        }
        catch
        {
            tokenizer.Dispose();
            throw;
        }
    }

    /// <summary>Runs a command's action; a cluster failure mid-evaluation becomes the usual one-line error.</summary>
    public static int Guard(Func<int> action)
    {
        try { return action(); }
        catch (ClusterEvaluationException e) { throw new UserError(e.Message); }
    }

    private static EvalModel Local(string dir, string? adapterDir)
    {
        var llama = ModelArguments.LoadModel(dir);
        HfTokenizer? tokenizer = null;
        try
        {
            tokenizer = RequireTokenizer(dir);
            var bank = ModelArguments.LoadAdapter(adapterDir, llama);
            return new EvalModel(new LocalEvaluationModel(llama, bank), tokenizer, bank is null ? [tokenizer, llama] : [bank, tokenizer, llama]);
        }
        catch
        {
            tokenizer?.Dispose();
            llama.Dispose();
            throw;
        }
    }

    private static HfTokenizer RequireTokenizer(string dir) =>
        ModelArguments.TryLoadTokenizer(dir) ?? throw new UserError($"--model: evaluation needs {Path.Combine(dir, "tokenizer.json")}, which is missing");

    /// <summary>An opened evaluation model with its tokenizer; disposing closes the cluster session or frees the local model.</summary>
    internal sealed class EvalModel(IEvaluationModel model, HfTokenizer tokenizer, IReadOnlyList<IDisposable> owned) : IDisposable
    {
        public IEvaluationModel Model { get; } = model;
        public HfTokenizer Tokenizer { get; } = tokenizer;
        public LlamaConfig Config => Model.Config;

        public void Dispose()
        {
            foreach (var d in owned) d.Dispose();
        }
    }
}
