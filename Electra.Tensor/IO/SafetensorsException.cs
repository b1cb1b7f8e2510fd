namespace Electra.IO;

/// <summary>
/// A safetensors file that cannot be read or written. The message names the file, the tensor when there is one,
/// and what was expected against what was found.
/// </summary>
public sealed class SafetensorsException : IOException
{
    public SafetensorsException(string message) : base(message) { }

    public SafetensorsException(string message, Exception inner) : base(message, inner) { }
}
