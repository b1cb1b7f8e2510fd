using System.Buffers.Binary;
using System.Text;
using Electra.IO;

namespace Electra.Tests.Tensor;

using Tensor = Electra.Tensor;

public class SafetensorsTests
{
    private string _dir = "";

    [SetUp]
    public void CreateDir() => _dir = TestData.TempDir();

    [TearDown]
    public void DeleteDir() => Directory.Delete(_dir, recursive: true);

    private string PathOf(string name) => Path.Combine(_dir, name);

    /// <summary>Builds a file byte by byte: u64 LE header length, the header text as given, then the data.</summary>
    private string HandBuilt(string name, string header, byte[] data, ulong? claimedHeaderLength = null)
    {
        var json = Encoding.UTF8.GetBytes(header);
        var bytes = new byte[8 + json.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, claimedHeaderLength ?? (ulong)json.Length);
        json.CopyTo(bytes, 8);
        data.CopyTo(bytes, 8 + json.Length);
        var path = PathOf(name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private static string OpenError(string path)
    {
        var ex = Assert.Throws<SafetensorsException>(() => SafetensorsFile.Open(path).Dispose());
        return ex!.Message;
    }

    [Test]
    public void F32RoundTripKeepsValuesShapesAndMetadata()
    {
        var a = TestData.RandomFloats(3 * 5 * 7, seed: 1);
        var b = TestData.RandomFloats(13, seed: 2, scale: 1e-20f);
        var path = PathOf("model.safetensors");
        using (var ta = Tensor.FromArray(a, [3, 5, 7]))
        using (var tb = Tensor.FromArray(b, [13]))
        using (var scalar = Tensor.Scalar(-2.5f))
        using (var empty = Tensor.Zeros([0, 4]))
            SafetensorsWriter.Write(path, [("layer.1.w", ta), ("bias", tb), ("scale", scalar), ("nothing", empty)],
                new Dictionary<string, string> { ["format"] = "pt", ["note"] = "ünïcode \"quoted\"" });

        Assert.That(File.Exists(path + ".tmp"), Is.False);
        using var file = SafetensorsFile.Open(path);
        Assert.That(file.Names, Is.EqualTo(new[] { "bias", "layer.1.w", "nothing", "scale" }));
        Assert.That(file.Metadata["format"], Is.EqualTo("pt"));
        Assert.That(file.Metadata["note"], Is.EqualTo("ünïcode \"quoted\""));
        Assert.That(file.Info("layer.1.w").DType, Is.EqualTo(SafetensorsDType.F32));
        Assert.That(file.Info("layer.1.w").Shape, Is.EqualTo(new Shape(3, 5, 7)));
        Assert.That(file.Info("scale").Shape.Rank, Is.EqualTo(0));
        Assert.That(file.Info("nothing").Shape, Is.EqualTo(new Shape(0, 4)));

        using var ra = file.ReadTensor("layer.1.w", Device.Cpu);
        using var rb = file.ReadTensor("bias");
        using var rs = file.ReadTensor("scale");
        using var re = file.ReadTensor("nothing");
        Assert.That(ra.Shape, Is.EqualTo(new Shape(3, 5, 7)));
        Assert.That(ra.ToFloatArray(), Is.EqualTo(a));
        Assert.That(rb.ToFloatArray(), Is.EqualTo(b));
        Assert.That(rs.Shape.Rank, Is.EqualTo(0));
        Assert.That(rs.Item(), Is.EqualTo(-2.5f));
        Assert.That(re.Shape, Is.EqualTo(new Shape(0, 4)));
        Assert.That(re.Count, Is.EqualTo(0));
    }

    [Test]
    public void WriterPadsHeaderToEightBytesAndAlignsOffsets()
    {
        var path = PathOf("aligned.safetensors");
        using (var f = Tensor.FromArray([1f, 2f, 3f], [3]))
        using (var i = Tensor.FromArray([7], [1]))
            SafetensorsWriter.Write(path, [("f", f), ("i", i)], storeAs: null);
        var bytes = File.ReadAllBytes(path);
        long n = (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.That((8 + n) % 8, Is.EqualTo(0));
        var header = Encoding.UTF8.GetString(bytes, 8, (int)n);
        // Keys sorted, F32 before I32 by name, padded with spaces only.
        Assert.That(header.TrimEnd(' '), Is.EqualTo(
            "{\"f\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]},\"i\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[12,16]}}"));
        Assert.That(bytes.Length, Is.EqualTo(8 + n + 16));
        Assert.That(BitConverter.ToSingle(bytes, (int)(8 + n + 4)), Is.EqualTo(2f));
        Assert.That(BitConverter.ToInt32(bytes, (int)(8 + n + 12)), Is.EqualTo(7));
    }

    [Test]
    public void MixedWidthsAreLaidOutWidestFirstSoEveryOffsetIsAligned()
    {
        var path = PathOf("mixed.safetensors");
        using (var a = Tensor.FromArray([1f, 2f, 3f], [3]))
        using (var b = Tensor.FromArray([4f], [1]))
        using (var c = Tensor.FromArray([5, 6, 7], [3]))
        {
            using var bf = Tensor.FromSpan<ushort>([BFloat16.FromFloat(1.5f)], [1], DType.BF16);
            SafetensorsWriter.Write(path, [("a_bf16", bf), ("b", b), ("c", c), ("a", a)]);
        }
        using var file = SafetensorsFile.Open(path);
        foreach (var name in file.Names)
        {
            var info = file.Info(name);
            Assert.That(info.Begin % info.DType.Size(), Is.EqualTo(0), name);
        }
        Assert.That(file.Info("a_bf16").Begin, Is.EqualTo(7 * 4), "the 2-byte tensor comes after all 4-byte ones");
        using var r = file.ReadTensor("a_bf16");
        Assert.That(r.DType, Is.EqualTo(DType.F32));
        Assert.That(r.ToFloatArray(), Is.EqualTo(new[] { 1.5f }));
    }

    [Test]
    public void StoreAsBF16RoundsToNearestEvenAndReadsBackAsF32()
    {
        var path = PathOf("bf16.safetensors");
        // pi = 0x40490FDB -> 0x4049 (3.140625); 1 + 2^-8 + 2^-9 = 0x3F80C000 -> rounds up to 0x3F81 (1.0078125);
        // 1 + 2^-8 = 0x3F808000 is a tie and goes to even 0x3F80 (1.0).
        var values = new[] { MathF.PI, 1f + 1f / 256 + 1f / 512, 1f + 1f / 256, -0f, 65536f };
        using (var t = Tensor.FromArray(values, [5]))
        using (var ids = Tensor.FromArray([-3, 2147483647], [2]))
            SafetensorsWriter.Write(path, [("w", t), ("ids", ids)], storeAs: DType.BF16);
        using var file = SafetensorsFile.Open(path);
        Assert.That(file.Info("w").DType, Is.EqualTo(SafetensorsDType.BF16));
        Assert.That(file.Info("w").ByteLength, Is.EqualTo(10));
        Assert.That(file.Info("ids").DType, Is.EqualTo(SafetensorsDType.I32), "integers are never converted");
        using var w = file.ReadTensor("w");
        Assert.That(w.DType, Is.EqualTo(DType.F32));
        Assert.That(w.ToFloatArray(), Is.EqualTo(new[] { 3.140625f, 1.0078125f, 1f, -0f, 65536f }));
        using var r = file.ReadTensor("ids");
        Assert.That(r.DType, Is.EqualTo(DType.I32));
        Assert.That(r.ToIntArray(), Is.EqualTo(new[] { -3, 2147483647 }));
    }

    [Test]
    public void HandBuiltFileReadsEveryReadableDType()
    {
        var data = new List<byte>();
        void F32(float v) => data.AddRange(BitConverter.GetBytes(v));
        void U16(ushort v) => data.AddRange(BitConverter.GetBytes(v));
        F32(1.25f); F32(-8f);                                            // f32  [0, 8)
        data.AddRange(BitConverter.GetBytes(-5L)); data.AddRange(BitConverter.GetBytes(1L << 30)); // i64 [8, 24)
        data.AddRange(BitConverter.GetBytes(42)); data.AddRange(BitConverter.GetBytes(-1)); // i32 [24, 32)
        U16(0x3C00); U16(0xC000); U16(0x3800);                          // f16  1, -2, 0.5 [32, 38)
        U16(0x3FC0); U16(0xC2F7);                                       // bf16 1.5, -123.5 [38, 42)
        data.Add(1);                                                    // bool [42, 43)
        var header = """
            {"__metadata__":{"format":"pt"},
             "f32":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},
             "i64":{"dtype":"I64","shape":[2,1],"data_offsets":[8,24]},
             "i32":{"dtype":"I32","shape":[1,2],"data_offsets":[24,32]},
             "f16":{"dtype":"F16","shape":[3],"data_offsets":[32,38]},
             "bf16":{"dtype":"BF16","shape":[2],"data_offsets":[38,42]},
             "flag":{"dtype":"BOOL","shape":[],"data_offsets":[42,43]}}
            """;
        var path = HandBuilt("hand.safetensors", header, data.ToArray());

        using var file = SafetensorsFile.Open(path);
        Assert.That(file.Metadata, Is.EquivalentTo(new Dictionary<string, string> { ["format"] = "pt" }));
        Assert.That(file.Names, Has.Count.EqualTo(6));
        using (var t = file.ReadTensor("f32")) Assert.That(t.ToFloatArray(), Is.EqualTo(new[] { 1.25f, -8f }));
        using (var t = file.ReadTensor("i64"))
        {
            Assert.That(t.DType, Is.EqualTo(DType.I32));
            Assert.That(t.Shape, Is.EqualTo(new Shape(2, 1)));
            Assert.That(t.ToIntArray(), Is.EqualTo(new[] { -5, 1 << 30 }));
        }
        using (var t = file.ReadTensor("i32")) Assert.That(t.ToIntArray(), Is.EqualTo(new[] { 42, -1 }));
        using (var t = file.ReadTensor("f16")) Assert.That(t.ToFloatArray(), Is.EqualTo(new[] { 1f, -2f, 0.5f }));
        using (var t = file.ReadTensor("bf16")) Assert.That(t.ToFloatArray(), Is.EqualTo(new[] { 1.5f, -123.5f }));
        Assert.That(file.Info("flag").DType, Is.EqualTo(SafetensorsDType.Bool));
        var ex = Assert.Throws<SafetensorsException>(() => file.ReadTensor("flag"));
        Assert.That(ex!.Message, Does.Contain("tensor 'flag'").And.Contain("BOOL cannot be read"));
    }

    [Test]
    public void I64OutsideI32RangeIsReportedWithTheElement()
    {
        var data = BitConverter.GetBytes(7L).Concat(BitConverter.GetBytes(3_000_000_000L)).ToArray();
        var path = HandBuilt("ids.safetensors", """{"ids":{"dtype":"I64","shape":[2],"data_offsets":[0,16]}}""", data);
        using var file = SafetensorsFile.Open(path);
        var ex = Assert.Throws<SafetensorsException>(() => file.ReadTensor("ids"));
        Assert.That(ex!.Message, Does.Contain("tensor 'ids'").And.Contain("element 1 is 3000000000"));
    }

    [Test]
    public void UnknownNameListsWhatTheFileHolds()
    {
        var path = HandBuilt("m.safetensors", """{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""", new byte[4]);
        using var file = SafetensorsFile.Open(path);
        var ex = Assert.Throws<SafetensorsException>(() => file.Info("b"));
        Assert.That(ex!.Message, Does.Contain("no tensor 'b'").And.Contain("'a'"));
    }

    [Test]
    public void OverwritingReplacesTheFileAndLeavesNoTemporary()
    {
        var path = PathOf("again.safetensors");
        using (var t = Tensor.FromArray([1f], [1])) SafetensorsWriter.Write(path, [("x", t)]);
        using (var t = Tensor.FromArray([2f, 3f], [2])) SafetensorsWriter.Write(path, [("y", t)]);
        Assert.That(Directory.GetFiles(_dir), Is.EqualTo(new[] { path }));
        using var file = SafetensorsFile.Open(path);
        Assert.That(file.Names, Is.EqualTo(new[] { "y" }));
    }

    [Test]
    public void WriterRejectsDuplicateNamesBeforeTouchingTheFile()
    {
        var path = PathOf("dup.safetensors");
        using var t = Tensor.FromArray([1f], [1]);
        var ex = Assert.Throws<ArgumentException>(() => SafetensorsWriter.Write(path, [("x", t), ("x", t)]));
        Assert.That(ex!.Message, Does.Contain("'x' given twice"));
        Assert.That(Directory.GetFiles(_dir), Is.Empty);
    }

    // ---- malformed files ------------------------------------------------------------------------------------

    [Test]
    public void TruncatedDataNamesTheTensorThatNoLongerFits()
    {
        var path = PathOf("model.safetensors");
        using (var a = Tensor.FromArray(new float[6], [6]))
        using (var b = Tensor.FromArray(new float[4], [4]))
            SafetensorsWriter.Write(path, [("a", a), ("b", b)]);
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..^3]);
        Assert.That(OpenError(path), Does.Contain("model.safetensors: tensor 'b': data_offsets [24, 40] reach past the data section, which has 37 bytes"));
    }

    [Test]
    public void HeaderLengthPastEndOfFile()
    {
        var path = HandBuilt("h.safetensors", "{}", [], claimedHeaderLength: 1000);
        Assert.That(OpenError(path), Does.Contain("h.safetensors: header length 1000 reaches past the end of the file (10 bytes"));
    }

    [Test]
    public void HeaderLengthOverTheLimit()
    {
        var path = HandBuilt("h.safetensors", "{}", [], claimedHeaderLength: 1UL << 40);
        Assert.That(OpenError(path), Does.Contain($"header length {1UL << 40} is over the 100000000-byte limit"));
    }

    [Test]
    public void FileShorterThanTheLengthPrefix()
    {
        var path = PathOf("tiny.safetensors");
        File.WriteAllBytes(path, [1, 2, 3]);
        Assert.That(OpenError(path), Does.Contain("tiny.safetensors: file has 3 bytes"));
    }

    [Test]
    public void MissingFileIsASafetensorsError()
    {
        Assert.That(OpenError(PathOf("absent.safetensors")), Does.Contain("absent.safetensors: cannot open"));
    }

    [Test]
    public void OffsetsOutOfRange()
    {
        var path = HandBuilt("o.safetensors", """{"w":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}}""", new byte[16]);
        Assert.That(OpenError(path), Does.Contain("tensor 'w': data_offsets [8, 24] reach past the data section, which has 16 bytes"));
    }

    [Test]
    public void OffsetsThatEndBeforeTheyBegin()
    {
        var path = HandBuilt("o.safetensors", """{"w":{"dtype":"F32","shape":[0],"data_offsets":[8,4]}}""", new byte[16]);
        Assert.That(OpenError(path), Does.Contain("tensor 'w': data_offsets [8, 4] begin after they end"));
    }

    [Test]
    public void NegativeOffsets()
    {
        var path = HandBuilt("o.safetensors", """{"w":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}}""", new byte[16]);
        Assert.That(OpenError(path), Does.Contain("tensor 'w': data_offsets [-4,0] must be non-negative integers"));
    }

    [Test]
    public void OverlappingOffsetsNameBothTensors()
    {
        var header = """{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[2],"data_offsets":[12,20]}}""";
        var path = HandBuilt("o.safetensors", header, new byte[20]);
        Assert.That(OpenError(path), Does.Contain("tensor 'b': data_offsets [12, 20] overlap tensor 'a' at [0, 16]"));
    }

    [Test]
    public void ByteLengthThatDisagreesWithDTypeAndShape()
    {
        var header = """{"x.weight":{"dtype":"F32","shape":[5,6],"data_offsets":[0,100]}}""";
        var path = HandBuilt("model.safetensors", header, new byte[100]);
        Assert.That(OpenError(path), Does.EndWith("model.safetensors: tensor 'x.weight': data_offsets [0, 100] hold 100 bytes but shape [5, 6] of F32 needs 120"));
    }

    [Test]
    public void WrongDTypeSizeForTheBytes()
    {
        // 8 bytes are two F32 but four BF16: a header that says BF16 [2] is wrong.
        var header = """{"w":{"dtype":"BF16","shape":[2],"data_offsets":[0,8]}}""";
        var path = HandBuilt("m.safetensors", header, new byte[8]);
        Assert.That(OpenError(path), Does.Contain("tensor 'w': data_offsets [0, 8] hold 8 bytes but shape [2] of BF16 needs 4"));
    }

    [Test]
    public void ShapeWhoseElementCountOverflows()
    {
        var header = """{"w":{"dtype":"F32","shape":[2147483647,2147483647,2147483647],"data_offsets":[0,8]}}""";
        var path = HandBuilt("m.safetensors", header, new byte[8]);
        Assert.That(OpenError(path), Does.Contain("needs more than 2^63"));
    }

    [Test]
    public void NegativeDimension()
    {
        var header = """{"w":{"dtype":"F32","shape":[2,-1],"data_offsets":[0,8]}}""";
        var path = HandBuilt("m.safetensors", header, new byte[8]);
        Assert.That(OpenError(path), Does.Contain("tensor 'w': shape [2,-1] has -1 at axis 1"));
    }

    [Test]
    public void UnknownDType()
    {
        var header = """{"w":{"dtype":"F31","shape":[2],"data_offsets":[0,8]}}""";
        var path = HandBuilt("m.safetensors", header, new byte[8]);
        Assert.That(OpenError(path), Does.Contain("m.safetensors: tensor 'w': unknown dtype 'F31'"));
    }

    [Test]
    public void MissingDataOffsets()
    {
        var path = HandBuilt("m.safetensors", """{"w":{"dtype":"F32","shape":[2]}}""", new byte[8]);
        Assert.That(OpenError(path), Does.Contain("tensor 'w': 'data_offsets' must be an array [begin, end]"));
    }

    [Test]
    public void NonJsonHeader()
    {
        var path = HandBuilt("m.safetensors", "{\"w\": [1, 2", new byte[8]);
        Assert.That(OpenError(path), Does.Contain("m.safetensors: header (11 bytes) is not valid JSON"));
    }

    [Test]
    public void HeaderThatIsNotAnObject()
    {
        var path = HandBuilt("m.safetensors", "[1, 2, 3]", []);
        Assert.That(OpenError(path), Does.Contain("m.safetensors: header must be a JSON object of tensors; found a JSON array"));
    }

    [Test]
    public void MetadataWithANonStringValue()
    {
        var path = HandBuilt("m.safetensors", """{"__metadata__":{"epoch":3}}""", []);
        Assert.That(OpenError(path), Does.Contain("'__metadata__' entry 'epoch' must be a string; found a JSON number"));
    }

    [Test]
    public void DuplicateTensorNames()
    {
        var header = """{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}""";
        var path = HandBuilt("m.safetensors", header, new byte[8]);
        Assert.That(OpenError(path), Does.Contain("tensor 'w': appears twice in the header"));
    }
}
