using System.Text.Json.Nodes;

namespace Electra.Train.Reporting;

/// <summary>
/// JSON has no NaN or infinity, and System.Text.Json refuses to write them: a non-finite number becomes null, so
/// --json output stays parseable and a diverged model's NaN shows as null instead of crashing the writer.
/// </summary>
public static class JsonNumbers
{
    public static JsonNode? Finite(double value, int digits) => double.IsFinite(value) ? JsonValue.Create(Math.Round(value, digits)) : null;

    public static JsonNode? Finite(float value) => float.IsFinite(value) ? JsonValue.Create(value) : null;
}
