namespace Electra.Train.FineTuning;

/// <summary>Exceptions that mean "bad input" (a file, an argument, a checkpoint): printed as one line, exit code 1.</summary>
public static class UserErrors
{
    public static bool Is(Exception e) => e is IOException or InvalidDataException or ArgumentException or FormatException
        or UnauthorizedAccessException or NotSupportedException or Electra.Model.Checkpoints.CheckpointMismatchException
        or Electra.IO.SafetensorsException;
}
