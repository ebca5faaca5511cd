using static TorchSharp.torch;

namespace ShareLoRA.Training.SmallSystems;

/// <summary>
/// What <see cref="BeamSearch"/> needs from a language model: next-token logits after a query, then after each step's
/// tokens with the rows reordered to follow the surviving beams. Tests inject logits through it; <see cref="Gpt2BeamModel"/>
/// runs GPT-2 with its KV cache.
/// </summary>
public interface IBeamLanguageModel
{
    /// <summary>Starts a search: logits [vocab] (float) for the token after <paramref name="query"/>; the state holds one row.</summary>
    Tensor Start(IReadOnlyList<int> query);

    /// <summary>
    /// Reorders the state so row j continues old row <paramref name="sourceRows"/>[j], appends <paramref name="tokens"/>[j]
    /// to row j, and returns logits [n, vocab] for the next token of every row.
    /// </summary>
    Tensor Next(IReadOnlyList<int> sourceRows, IReadOnlyList<int> tokens);
}
