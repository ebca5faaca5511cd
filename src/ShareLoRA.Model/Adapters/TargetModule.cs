namespace ShareLoRA.Model.Adapters;

/// <summary>The linear maps of a Llama decoder layer that an adapter can target (the unit of ShareLoRA sharing).</summary>
public enum TargetModule
{
    Q, K, V, O, Gate, Up, Down,
}

/// <summary>Names and shapes of target modules.</summary>
public static class TargetModules
{
    /// <summary>All seven, in the canonical order q, k, v, o, gate, up, down.</summary>
    public static readonly IReadOnlyList<TargetModule> All =
        [TargetModule.Q, TargetModule.K, TargetModule.V, TargetModule.O, TargetModule.Gate, TargetModule.Up, TargetModule.Down];

    /// <summary>Short name used in job files and on the command line (q, k, v, o, gate, up, down).</summary>
    public static string ShortName(this TargetModule m) => m switch
    {
        TargetModule.Q => "q", TargetModule.K => "k", TargetModule.V => "v", TargetModule.O => "o",
        TargetModule.Gate => "gate", TargetModule.Up => "up", TargetModule.Down => "down",
        _ => throw new ArgumentOutOfRangeException(nameof(m)),
    };

    /// <summary>Parses a short name (q, k, v, o, gate, up, down) or an HF module name (q_proj, ...).</summary>
    public static bool TryParse(string name, out TargetModule module)
    {
        switch (name.Trim().ToLowerInvariant())
        {
            case "q": case "q_proj": module = TargetModule.Q; return true;
            case "k": case "k_proj": module = TargetModule.K; return true;
            case "v": case "v_proj": module = TargetModule.V; return true;
            case "o": case "o_proj": module = TargetModule.O; return true;
            case "gate": case "gate_proj": module = TargetModule.Gate; return true;
            case "up": case "up_proj": module = TargetModule.Up; return true;
            case "down": case "down_proj": module = TargetModule.Down; return true;
            default: module = default; return false;
        }
    }
}
