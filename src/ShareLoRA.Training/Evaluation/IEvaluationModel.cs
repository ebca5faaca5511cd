using ShareLoRA.Model.Config;

namespace ShareLoRA.Training.Evaluation;

/// <summary>
/// The model as the evaluators see it: forward passes that return only what an evaluation reads from the logits,
/// wherever the model runs — in this process (<see cref="LocalEvaluationModel"/>) or split across the pipeline stages
/// of a cluster. Each <see cref="Run"/> is ONE forward pass of the rows it is given, so the caller decides the
/// batching and every implementation computes the same numbers.
/// </summary>
public interface IEvaluationModel
{
    /// <summary>The model's config (positions, vocabulary, EOS ids).</summary>
    LlamaConfig Config { get; }

    /// <summary>One forward pass without a KV cache.</summary>
    EvaluationResult Run(EvaluationRequest request);

    /// <summary>Starts greedy decoding of one sequence with a KV cache sized for <paramref name="capacity"/> positions.</summary>
    IGreedyDecoder StartDecoding(int capacity);
}
