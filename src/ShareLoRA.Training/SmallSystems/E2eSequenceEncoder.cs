using ShareLoRA.Model.Tokenization;
using ShareLoRA.Training.Tasks.E2e;

namespace ShareLoRA.Training.SmallSystems;

/// <summary>
/// GPT-2 token ids of an E2E pair in the LoRA repo's layout (gpt2_encode.py --add_bos --add_eos, FT_Dataset):
/// query = ids(context) + [eos], completion = ids(" " + completion) + [eos]; the model reads query + completion and the
/// loss covers exactly the completion tokens (the prediction made at the query's last token onwards).
/// </summary>
public sealed class E2eSequenceEncoder(ITextTokenizer tokenizer, int eosId)
{
    public int EosId => eosId;

    /// <summary>The generation query of a linearised MR: ids(context) + [eos].</summary>
    public int[] Query(string context) => [.. tokenizer.Encode(context, addSpecialTokens: false), eosId];

    /// <summary>(input ids, query length) of a training pair, truncated to <paramref name="maxLength"/> tokens.</summary>
    public (int[] Ids, int QueryLength) Encode(E2eTrainingPair pair, int maxLength)
    {
        var query = Query(pair.Context);
        int[] ids = [.. query, .. tokenizer.Encode(" " + pair.Completion, addSpecialTokens: false), eosId];
        if (ids.Length > maxLength) ids = ids[..maxLength];
        return (ids, Math.Min(query.Length, ids.Length));
    }

    /// <summary>Text of generated ids (stop tokens already removed), stripped as gpt2_decode.py does.</summary>
    public string Decode(IReadOnlyList<int> ids) => tokenizer.Decode(ids).Trim();
}
