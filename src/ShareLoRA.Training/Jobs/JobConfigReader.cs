using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using ShareLoRA.Model.Adapters;

namespace ShareLoRA.Training.Jobs;

/// <summary>
/// Job JSON -> <see cref="JobConfig"/>: strict field names, defaults, range checks and path resolution, each failure a
/// one-line <see cref="JobConfigException"/>. Job files may hold // comments and trailing commas (JSONC), so example
/// jobs can document their fields.
/// </summary>
internal static partial class JobConfigReader
{
    private static readonly JsonDocumentOptions DocumentOptions = new()
    {
        CommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        AllowDuplicateProperties = false, // a field written twice is a mistake; fail at parse time with its line
    };

    public static JobConfig Read(string text, string source, string folder, string fallbackName, IEnumerable<string> overrides)
    {
        JsonNode? rootNode;
        try
        {
            rootNode = JsonNode.Parse(text, documentOptions: DocumentOptions);
        }
        catch (JsonException e)
        {
            throw new JobConfigException($"{source}:{(e.LineNumber ?? 0) + 1}: not valid JSON ({ShortJsonMessage(e)})");
        }
        if (rootNode is not JsonObject rootObject)
            throw new JobConfigException($"{source}: expected a JSON object {{ ... }} at the top level");

        var errors = new JobErrors(source, JobOverrides.Apply(rootObject, overrides, source));

        // All sections first, so a misspelt field anywhere is reported before any value problem.
        var root = JsonSection.Root(rootObject, errors,
            "name", "model", "data", "adapter", "optim", "batch", "steps", "epochs", "seed", "output", "device", "dtype", "pipeline", "checkpoint", "task");
        var dataSection = root.Section("data", "train", "eval", "format", "source_max_len", "target_max_len", "train_on_source",
            "eval_every", "eval_max_examples", "skip_bad_lines", "shuffle", "eval_fraction", "group_by_length");
        var adapterSection = root.Section("adapter", "method", "rank", "alpha", "dropout", "targets", "share");
        var optimSection = root.Section("optim", "lr", "weight_decay", "betas", "eps", "schedule", "warmup_steps", "max_grad_norm");
        var batchSection = root.Section("batch", "micro_batch_size", "micro_batches");
        var pipelineSection = root.Section("pipeline", "stages", "schedule", "wire_dtype");
        var checkpointSection = root.Section("checkpoint", "every", "keep");
        var hasTask = root.Node("task") is not null;
        var taskSection = root.Section("task", "kind", "name", "label_smoothing");

        var name = root.String("name", fallbackName);
        if (!NamePattern().IsMatch(name))
            throw errors.Invalid("name", "must contain only letters, digits, '.', '_' or '-'", root.Node("name") ?? JsonValue.Create(name));
        var model = ResolvePath(root.RequiredString("model", "the base model's Hugging Face directory"), "model", folder, errors);

        // "epochs" resolves to steps only once the data is prepared (JobSteps.Resolve); until then steps is 0.
        int? epochs = null;
        if (root.Node("epochs") is { } epochsNode)
        {
            if (root.Node("steps") is { } stepsNode)
                throw errors.General($"give either steps or epochs, not both (got steps {JsonSection.Render(stepsNode)} and epochs {JsonSection.Render(epochsNode)})");
            epochs = Positive(root, "epochs", 1, errors);
        }
        var steps = epochs is null ? Positive(root, "steps", JobConfig.DefaultSteps, errors) : 0;
        var seed = root.Long("seed", JobConfig.DefaultSeed);
        if (seed < 0) throw errors.Invalid("seed", "must be >= 0", root.Node("seed"));
        var outputText = root.OptionalString("output");
        var output = outputText is null
            ? Path.GetFullPath(Path.Combine(folder, "runs", name))
            : ResolvePath(outputText, "output", folder, errors);
        var device = root.String("device", JobConfig.DefaultDevice);
        if (!DevicePattern().IsMatch(device))
            throw errors.Invalid("device", "must be cpu, cuda or cuda:N", root.Node("device"));
        var dtype = root.Choice("dtype", JobConfig.DefaultDtype, JobConfig.Dtypes);

        var data = ReadData(dataSection, folder, errors);
        var adapter = ReadAdapter(adapterSection, errors);
        var optim = ReadOptim(optimSection, steps, errors);
        var batch = new BatchConfig(
            Positive(batchSection, "micro_batch_size", BatchConfig.DefaultMicroBatchSize, errors),
            Positive(batchSection, "micro_batches", BatchConfig.DefaultMicroBatches, errors));
        var pipeline = new PipelineConfig(
            Positive(pipelineSection, "stages", PipelineConfig.DefaultStages, errors),
            pipelineSection.Choice("schedule", PipelineConfig.DefaultSchedule, PipelineConfig.Schedules),
            pipelineSection.Choice("wire_dtype", PipelineConfig.DefaultWireDtype, PipelineConfig.WireDtypes));
        var checkpoint = new CheckpointConfig(
            NonNegative(checkpointSection, "every", CheckpointConfig.DefaultEvery, errors),
            Positive(checkpointSection, "keep", CheckpointConfig.DefaultKeep, errors));

        var task = hasTask ? ReadTask(taskSection, errors) : null;

        return new JobConfig(name, model, data, adapter, optim, batch, steps, seed, output, device, dtype, pipeline, checkpoint) { Task = task, Epochs = epochs };
    }

    private static TaskConfig ReadTask(JsonSection s, JobErrors errors)
    {
        var kind = s.Choice("kind", TaskConfig.Glue, TaskConfig.Kinds);
        if (kind == TaskConfig.E2e)
        {
            if (s.Node("name") is { } name)
                throw errors.Invalid(s.PathOf("name"), "is not used by an e2e task (E2E NLG has no sub-tasks); remove it", name);
            var smoothing = s.Double("label_smoothing", TaskConfig.DefaultE2eLabelSmoothing);
            if (!(smoothing >= 0 && smoothing < 1))
                throw errors.Invalid(s.PathOf("label_smoothing"), "must be >= 0 and < 1", s.Node("label_smoothing"));
            return new TaskConfig(kind, null, smoothing);
        }
        if (s.Node("label_smoothing") is { } node)
            throw errors.Invalid(s.PathOf("label_smoothing"), "applies to e2e tasks only (a GLUE loss is not label-smoothed)", node);
        var taskName = s.RequiredString("name", "the GLUE task (sst2, mrpc, rte, cola, stsb, qnli)");
        try { Tasks.Glue.GlueTasks.Parse(taskName); }
        catch (ArgumentException e) { throw errors.Invalid(s.PathOf("name"), e.Message, s.Node("name")); }
        return new TaskConfig(kind, taskName);
    }

    private static DataConfig ReadData(JsonSection s, string folder, JobErrors errors)
    {
        var train = ResolvePath(s.RequiredString("train", "the training data file"), s.PathOf("train"), folder, errors);
        var evalText = s.OptionalString("eval");
        var eval = evalText is null ? null : ResolvePath(evalText, s.PathOf("eval"), folder, errors);
        var format = s.Choice("format", DataConfig.DefaultFormat, DataConfig.Formats);
        var sourceMax = Positive(s, "source_max_len", DataConfig.DefaultSourceMaxLen, errors);
        var targetMax = Positive(s, "target_max_len", DataConfig.DefaultTargetMaxLen, errors);
        var trainOnSource = s.Bool("train_on_source", false);
        var evalEvery = NonNegative(s, "eval_every", 0, errors);
        var evalMax = NonNegative(s, "eval_max_examples", 0, errors);
        var skipBad = s.Bool("skip_bad_lines", false);
        var shuffle = s.Bool("shuffle", true);
        var evalFraction = s.Double("eval_fraction", 0);
        if (evalFraction < 0 || evalFraction >= 1)
            throw errors.Invalid(s.PathOf("eval_fraction"), "must be >= 0 and < 1", s.Node("eval_fraction"));
        if (eval is not null && evalFraction > 0)
            throw errors.Invalid(s.PathOf("eval_fraction"), "must be 0 when data.eval is set (use one eval source)", s.Node("eval_fraction"));
        if (evalEvery > 0 && eval is null && evalFraction == 0)
            throw errors.Invalid(s.PathOf("eval_every"), "needs an eval set: set data.eval or data.eval_fraction", s.Node("eval_every"));
        var groupByLength = s.Bool("group_by_length", false);
        return new DataConfig(train, eval, format, sourceMax, targetMax, trainOnSource, evalEvery, evalMax, skipBad, shuffle,
            evalFraction, groupByLength);
    }

    private static AdapterConfig ReadAdapter(JsonSection s, JobErrors errors)
    {
        var method = s.Choice("method", AdapterConfig.DefaultMethod, AdapterConfig.Methods);
        var rank = Positive(s, "rank", AdapterConfig.DefaultRank, errors);
        var alpha = s.Double("alpha", AdapterConfig.DefaultAlpha);
        if (alpha <= 0) throw errors.Invalid(s.PathOf("alpha"), "must be > 0", s.Node("alpha"));
        var dropout = s.Double("dropout", AdapterConfig.DefaultDropout);
        if (dropout < 0 || dropout >= 1) throw errors.Invalid(s.PathOf("dropout"), "must be >= 0 and < 1", s.Node("dropout"));

        var targetNames = s.StringList("targets", TargetModules.All.Select(m => m.ShortName()).ToList());
        if (targetNames.Count == 0) throw errors.Invalid(s.PathOf("targets"), "must name at least one module", s.Node("targets"));
        var targets = new List<TargetModule>();
        for (var i = 0; i < targetNames.Count; i++)
        {
            if (!TargetModules.TryParse(targetNames[i], out var module))
                throw errors.Invalid($"{s.PathOf("targets")}[{i}]", "must be one of q, k, v, o, gate, up, down", JsonValue.Create(targetNames[i]));
            if (targets.Contains(module))
                throw errors.Invalid($"{s.PathOf("targets")}[{i}]", "repeats a module already listed", JsonValue.Create(targetNames[i]));
            targets.Add(module);
        }
        targets.Sort();

        var share = new Dictionary<TargetModule, string>();
        foreach (var (key, value) in s.StringMap("share"))
        {
            var path = $"{s.PathOf("share")}.{key}";
            if (!TargetModules.TryParse(key, out var module))
                throw errors.General($"{path}: unknown module '{key}' (expected q, k, v, o, gate, up, down)");
            if (!targets.Contains(module))
                throw errors.General($"{path}: module {module.ShortName()} is not in adapter.targets");
            if (share.ContainsKey(module))
                throw errors.General($"{path}: module {module.ShortName()} is listed twice");
            if (!AdapterConfig.ShareValues.Contains(value))
                throw errors.Invalid(path, "must be one of " + string.Join(", ", AdapterConfig.ShareValues), JsonValue.Create(value));
            share[module] = value;
        }

        return new AdapterConfig(method, rank, alpha, dropout,
            targets.Select(m => m.ShortName()).ToList(),
            TargetModules.All.Where(share.ContainsKey).ToDictionary(m => m.ShortName(), m => share[m]));
    }

    private static OptimConfig ReadOptim(JsonSection s, int steps, JobErrors errors)
    {
        var lr = s.Double("lr", OptimConfig.DefaultLr);
        if (lr <= 0) throw errors.Invalid(s.PathOf("lr"), "must be > 0", s.Node("lr"));
        var weightDecay = s.Double("weight_decay", 0);
        if (weightDecay < 0) throw errors.Invalid(s.PathOf("weight_decay"), "must be >= 0", s.Node("weight_decay"));

        var betas = OptimConfig.DefaultBetas;
        var betasNode = s.Node("betas");
        if (betasNode is not null)
        {
            if (betasNode is not JsonArray { Count: 2 } pair || pair[0] is null || pair[1] is null)
                throw errors.Invalid(s.PathOf("betas"), "must be two numbers [beta1, beta2]", betasNode);
            betas = (s.AsDouble(pair[0]!, s.PathOf("betas") + "[0]"), s.AsDouble(pair[1]!, s.PathOf("betas") + "[1]"));
            if (betas.Beta1 < 0 || betas.Beta1 >= 1) throw errors.Invalid(s.PathOf("betas") + "[0]", "must be >= 0 and < 1", pair[0]);
            if (betas.Beta2 < 0 || betas.Beta2 >= 1) throw errors.Invalid(s.PathOf("betas") + "[1]", "must be >= 0 and < 1", pair[1]);
        }

        var eps = s.Double("eps", OptimConfig.DefaultEps);
        if (eps <= 0) throw errors.Invalid(s.PathOf("eps"), "must be > 0", s.Node("eps"));
        var schedule = s.Choice("schedule", OptimConfig.DefaultSchedule, OptimConfig.Schedules);
        var warmup = NonNegative(s, "warmup_steps", 0, errors);
        if (steps > 0 && warmup > steps) // an epochs job checks it once resolved
            throw errors.Invalid(s.PathOf("warmup_steps"), $"must be <= steps ({steps})", s.Node("warmup_steps"));
        var maxGradNorm = s.Double("max_grad_norm", OptimConfig.DefaultMaxGradNorm);
        if (maxGradNorm < 0) throw errors.Invalid(s.PathOf("max_grad_norm"), "must be >= 0 (0 = no clipping)", s.Node("max_grad_norm"));
        return new OptimConfig(lr, weightDecay, betas, eps, schedule, warmup, maxGradNorm);
    }

    private static int Positive(JsonSection s, string field, int @default, JobErrors errors)
    {
        var value = s.Int(field, @default);
        if (value <= 0) throw errors.Invalid(s.PathOf(field), "must be > 0", s.Node(field));
        return value;
    }

    private static int NonNegative(JsonSection s, string field, int @default, JobErrors errors)
    {
        var value = s.Int(field, @default);
        if (value < 0) throw errors.Invalid(s.PathOf(field), "must be >= 0", s.Node(field));
        return value;
    }

    /// <summary>Expands ${VAR} from the environment, then resolves a relative path against the job file's folder.</summary>
    private static string ResolvePath(string value, string path, string folder, JobErrors errors)
    {
        var expanded = VariablePattern().Replace(value, match =>
        {
            var name = match.Groups[1].Value;
            var env = Environment.GetEnvironmentVariable(name);
            if (string.IsNullOrEmpty(env))
                throw errors.General($"{path} uses ${{{name}}}, which is not set in the environment (got \"{value}\")");
            return env;
        });
        return Path.GetFullPath(Path.IsPathRooted(expanded) ? expanded : Path.Combine(folder, expanded));
    }

    // System.Text.Json appends " Path: $.x | LineNumber: 2 | BytePositionInLine: 5." — the line is already in front.
    private static string ShortJsonMessage(JsonException e)
    {
        var message = e.Message;
        foreach (var marker in new[] { " Path: ", " LineNumber: " })
        {
            var at = message.IndexOf(marker, StringComparison.Ordinal);
            if (at > 0) message = message[..at];
        }
        return message.TrimEnd();
    }

    [GeneratedRegex(@"^[A-Za-z0-9._-]+$")]
    private static partial Regex NamePattern();

    [GeneratedRegex(@"^(cpu|cuda(:[0-9]+)?)$")]
    private static partial Regex DevicePattern();

    [GeneratedRegex(@"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")]
    private static partial Regex VariablePattern();
}
