using Electra.Cuda;
using Electra.Cuda.Interop;

namespace Electra.Tests.Cuda;

public class ResolverTests
{
    [Test]
    public void OverridePointingNowhereListsThePathTried()
    {
        var handle = NativeLibraries.Load("/nowhere/libcublas.so.12", ["libcublas.so.12"], out var tried);
        Assert.That(handle, Is.EqualTo((nint)0));
        Assert.That(tried, Has.Count.EqualTo(1), "an override is the only candidate");
        Assert.That(tried[0], Does.StartWith("/nowhere/libcublas.so.12").And.Contain("no such file"));

        var ex = new CudaLibraryNotFoundException(NativeLibraries.Cublas, tried);
        Assert.That(ex, Is.InstanceOf<CudaUnavailableException>());
        Assert.That(ex.Message, Does.Contain("paths tried").And.Contain("/nowhere/libcublas.so.12").And.Contain("ELECTRA_LIBCUBLAS"));
    }

    [Test]
    public void WithoutOverrideEverySonameAndFolderIsTriedButNeverAStub()
    {
        var handle = NativeLibraries.Load(null, ["libelectra-does-not-exist.so.1"], out var tried);
        Assert.That(handle, Is.EqualTo((nint)0));
        Assert.That(tried[0], Does.StartWith("libelectra-does-not-exist.so.1 "));
        Assert.That(tried, Has.Some.StartsWith("/usr/local/cuda/lib64/libelectra-does-not-exist.so.1"));
        Assert.That(tried, Has.None.Contains("/stubs/"));

        var stub = NativeLibraries.Load("/usr/local/cuda/lib64/stubs/libcuda.so", ["libcuda.so.1"], out var triedStub);
        Assert.That(stub, Is.EqualTo((nint)0));
        Assert.That(triedStub[0], Does.Contain("toolkit stub"));
    }
}
