using System.Buffers;
using System.Net;
using System.Net.Sockets;
using BenchmarkDotNet.Attributes;
using BgpLb.Bgp.Wire;

namespace BgpLb.Benchmarks;

/// <summary>UPDATE encoding of 100k host routes; results are per prefix (OperationsPerInvoke).</summary>
[MemoryDiagnoser]
public class UpdateEncodeBenchmarks
{
    private const int Prefixes = 100_000;
    private IPNetwork[] _v4 = [];
    private IPNetwork[] _v6 = [];
    private EncodedPathAttributes _v4Attributes = null!;
    private EncodedPathAttributes _v6Attributes = null!;
    private readonly ArrayBufferWriter<byte> _output = new(4 * 1024 * 1024);

    [GlobalSetup]
    public void Setup()
    {
        _v4 = [.. Enumerable.Range(0, Prefixes).Select(i => new IPNetwork(new IPAddress(new byte[] { 10, (byte)(i >> 16), (byte)(i >> 8), (byte)i }), 32))];
        _v6 = [.. Enumerable.Range(0, Prefixes).Select(i =>
        {
            var bytes = new byte[16];
            bytes[0] = 0x20; bytes[1] = 0x01; bytes[2] = 0x0d; bytes[3] = 0xb8;
            bytes[13] = (byte)(i >> 16); bytes[14] = (byte)(i >> 8); bytes[15] = (byte)i;
            return new IPNetwork(new IPAddress(bytes), 128);
        })];
        _v4Attributes = EncodedPathAttributes.Create(new PathAttributeSet { AsPath = [64513], NextHop = IPAddress.Parse("198.18.0.2") });
        _v6Attributes = EncodedPathAttributes.Create(new PathAttributeSet { AsPath = [64513], NextHop = IPAddress.Parse("2001:db8::2") });
    }

    [Benchmark(OperationsPerInvoke = Prefixes)]
    public int AnnounceIPv4HostRoutes() => Announce(_v4, _v4Attributes);

    [Benchmark(OperationsPerInvoke = Prefixes)]
    public int AnnounceIPv6HostRoutes() => Announce(_v6, _v6Attributes);

    [Benchmark(OperationsPerInvoke = Prefixes)]
    public int WithdrawIPv4HostRoutes()
    {
        _output.ResetWrittenCount();
        var messages = 0;
        for (var rest = _v4.AsSpan(); !rest.IsEmpty; messages++)
        {
            rest = rest[UpdateWriter.WriteWithdrawals(_output, AddressFamily.InterNetwork, rest)..];
        }

        return messages;
    }

    private int Announce(IPNetwork[] prefixes, EncodedPathAttributes attributes)
    {
        _output.ResetWrittenCount();
        var messages = 0;
        for (var rest = prefixes.AsSpan(); !rest.IsEmpty; messages++)
        {
            rest = rest[UpdateWriter.WriteAnnouncements(_output, attributes, rest)..];
        }

        return messages;
    }
}

/// <summary>Framing and decoding of one full 4096-byte UPDATE (810 IPv4 /32 or 237 IPv6 /128).</summary>
[MemoryDiagnoser]
public class UpdateDecodeBenchmarks
{
    private byte[] _v4Message = [];
    private byte[] _v6Message = [];
    private static readonly UpdateDecodeContext Context = new(FourOctetAs: true, IsInternal: false);

    [GlobalSetup]
    public void Setup()
    {
        _v4Message = FirstMessage(IPAddress.Parse("198.18.0.2"), i => new IPNetwork(new IPAddress(new byte[] { 10, 0, (byte)(i >> 8), (byte)i }), 32));
        _v6Message = FirstMessage(IPAddress.Parse("2001:db8::2"), i => new IPNetwork(IPAddress.Parse($"2001:db8::{i:x}"), 128));
    }

    private static byte[] FirstMessage(IPAddress nextHop, Func<int, IPNetwork> prefix)
    {
        var output = new ArrayBufferWriter<byte>();
        var attributes = EncodedPathAttributes.Create(new PathAttributeSet { AsPath = [64513], NextHop = nextHop, Communities = [0xFC010064] });
        UpdateWriter.WriteAnnouncements(output, attributes, Enumerable.Range(0, 1000).Select(prefix).ToArray());
        return output.WrittenSpan.ToArray();
    }

    [Benchmark]
    public int DecodeIPv4Update() => Decode(_v4Message).Nlri.Count;

    [Benchmark]
    public int DecodeIPv6Update() => Decode(_v6Message).MpReach!.Nlri.Count;

    private static UpdateMessage Decode(byte[] message)
    {
        var buffer = new ReadOnlySequence<byte>(message);
        BgpFraming.TryReadMessage(ref buffer, BgpConstants.MaxMessageLength, out _, out var body);
        return UpdateDecoder.Decode(body, Context);
    }
}
