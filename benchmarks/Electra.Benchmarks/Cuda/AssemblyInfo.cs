using System.Runtime.CompilerServices;

// tests/Electra.Tests/Cuda checks the baselines compute the same functions as the kernels they are compared with.
[assembly: InternalsVisibleTo("Electra.Tests")]
