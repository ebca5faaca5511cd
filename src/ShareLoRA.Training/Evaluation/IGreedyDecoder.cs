namespace ShareLoRA.Training.Evaluation;

/// <summary>Greedy decoding of one sequence whose keys and values stay cached wherever the model runs; dispose to free the cache.</summary>
public interface IGreedyDecoder : IDisposable
{
    /// <summary>Appends <paramref name="tokens"/> (the prompt first, then each chosen token) and returns the argmax of the next-token logits.</summary>
    int Next(IReadOnlyList<int> tokens);
}
