namespace ShareLoRA.Training.Tasks.E2e;

/// <summary>One attribute of an E2E meaning representation, e.g. eatType[pub] -> ("eatType", "pub").</summary>
public sealed record E2eSlot(string Attribute, string Value);
