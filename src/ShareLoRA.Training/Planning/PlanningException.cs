namespace ShareLoRA.Training.Planning;

/// <summary>A partition plan that cannot be made (bad request, more stages than layers, a stage over device memory); the message is one line for the user.</summary>
public sealed class PlanningException(string message) : Exception(message);
