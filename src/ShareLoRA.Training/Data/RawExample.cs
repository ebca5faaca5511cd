namespace ShareLoRA.Training.Data;

/// <summary>One record as read from a data file, before tokenization. <paramref name="Origin"/> is "file:line".</summary>
public abstract record RawExample(string Origin);

/// <summary>An Alpaca record: instruction, optional input ("" when absent), output.</summary>
public sealed record AlpacaExample(string Instruction, string Input, string Output, string Origin) : RawExample(Origin);

/// <summary>A plain-text record ({"text": ...}): the whole text is the training target.</summary>
public sealed record TextExample(string Text, string Origin) : RawExample(Origin);
