namespace Skiff.Runtime;

/// <summary>
/// A container operation failed. For errors raised inside the init the message is the init's text
/// unchanged (e.g. <c>exec: "x": executable file not found in $PATH</c>), which engines map to exit codes.
/// </summary>
public sealed class ContainerException : Exception
{
    public ContainerException(string message) : base(message) { }
    public ContainerException(string message, Exception inner) : base(message, inner) { }
}
