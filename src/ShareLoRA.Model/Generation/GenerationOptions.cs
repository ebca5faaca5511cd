namespace ShareLoRA.Model.Generation;

/// <summary>
/// How to continue a prompt: Temperature 0 is greedy (first maximum wins); above 0 samples from softmax(logits / T),
/// restricted to the top-p nucleus when TopP is set, from a generator seeded with Seed. Generation stops after
/// MaxNewTokens or right after emitting one of StopTokenIds (which is included in the output).
/// </summary>
public sealed record GenerationOptions(
    int MaxNewTokens,
    double Temperature = 0,
    double? TopP = null,
    long Seed = 0,
    bool UseKvCache = true,
    IReadOnlyList<int>? StopTokenIds = null);
