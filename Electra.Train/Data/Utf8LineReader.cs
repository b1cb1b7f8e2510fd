using System.Buffers;
using System.Text;
using System.Text.Unicode;

namespace Electra.Train.Data;

/// <summary>
/// Reads lines of UTF-8 text from a stream without ever failing on its contents: each invalid byte sequence becomes
/// one U+FFFD and is counted (the decoder's own replacement would hide how many there were), and a line longer than
/// <see cref="MaxLineChars"/> is handed out in pieces, cut at whitespace where possible, so one newline-free
/// gigabyte never has to fit in a string.
/// </summary>
public sealed class Utf8LineReader : IDisposable
{
    public const int MaxLineChars = 1 << 20;

    private readonly Stream _stream;
    private readonly int _maxLineChars;
    private readonly byte[] _bytes = new byte[1 << 16];
    private readonly char[] _chars = new char[1 << 16];
    private int _byteStart, _byteEnd;
    private int _charStart, _charEnd;
    private bool _eof;
    private bool _atStart = true;
    private bool _inHugeLine;
    private readonly StringBuilder _line = new();

    public Utf8LineReader(Stream stream, int maxLineChars = MaxLineChars)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxLineChars, 16);
        _stream = stream;
        _maxLineChars = maxLineChars;
    }

    /// <summary>Invalid UTF-8 sequences replaced so far.</summary>
    public long InvalidSequences { get; private set; }
    /// <summary>Physical lines longer than the limit (each counted once, however many pieces it gave).</summary>
    public long HugeLines { get; private set; }
    public long BytesRead { get; private set; }

    /// <summary>The next line without its terminator (or the next piece of a huge line); null at the end.</summary>
    public string? ReadLine()
    {
        while (true)
        {
            if (_charStart == _charEnd && !Decode())
            {
                if (_line.Length == 0) return null;
                _inHugeLine = false;
                return TakeLine(_line.Length, 0);
            }
            var chars = _chars.AsSpan(_charStart, _charEnd - _charStart);
            int newline = chars.IndexOf('\n');
            int take = newline < 0 ? chars.Length : newline;
            take = Math.Min(take, _maxLineChars - _line.Length);
            _line.Append(chars[..take]);
            _charStart += take;
            if (newline >= 0 && take == newline)
            {
                _charStart++;
                _inHugeLine = false;
                int length = _line.Length;
                if (length > 0 && _line[length - 1] == '\r') length--;
                return TakeLine(length, _line.Length - length);
            }
            if (_line.Length >= _maxLineChars)
            {
                if (!_inHugeLine) HugeLines++;
                _inHugeLine = true;
                return TakeLine(CutPoint(), 0);
            }
        }
    }

    /// <summary>Cut just after the last whitespace in the final stretch, so a word is not split in two.</summary>
    private int CutPoint()
    {
        int lowest = Math.Max(1, _line.Length - 4096);
        for (int i = _line.Length - 1; i >= lowest; i--)
            if (char.IsWhiteSpace(_line[i])) return i + 1;
        return _line.Length;
    }

    private string TakeLine(int length, int dropAfter)
    {
        string line = _line.ToString(0, length);
        _line.Remove(0, length + dropAfter);
        return line;
    }

    /// <summary>Fills the char buffer; false at the end of the stream.</summary>
    private bool Decode()
    {
        _charStart = _charEnd = 0;
        while (_charEnd == 0)
        {
            if (_byteEnd - _byteStart < 4 && !_eof) Fill();
            if (_byteStart == _byteEnd) return false;
            var src = _bytes.AsSpan(_byteStart, _byteEnd - _byteStart);
            var status = Utf8.ToUtf16(src, _chars, out int read, out int written, replaceInvalidSequences: false, isFinalBlock: _eof);
            _byteStart += read;
            _charEnd = written;
            if (status == OperationStatus.InvalidData)
            {
                // Rune.DecodeFromUtf8 reports the maximal invalid subsequence, which the Unicode standard says
                // becomes one U+FFFD: the same count any conforming decoder would give.
                Rune.DecodeFromUtf8(_bytes.AsSpan(_byteStart, _byteEnd - _byteStart), out _, out int invalid);
                _byteStart += Math.Max(1, invalid);
                InvalidSequences++;
                if (_charEnd == _chars.Length)
                {
                    _byteStart -= Math.Max(1, invalid); // no room: retry this sequence next time
                    InvalidSequences--;
                }
                else
                {
                    _chars[_charEnd++] = '\uFFFD';
                }
            }
            else if (status == OperationStatus.NeedMoreData && _eof)
            {
                // A truncated sequence at the very end of the file.
                _byteStart = _byteEnd;
                InvalidSequences++;
                _chars[_charEnd++] = '\uFFFD';
            }
        }
        if (_atStart)
        {
            _atStart = false;
            if (_chars[0] == '\uFEFF') _charStart = 1;
        }
        return true;
    }

    private void Fill()
    {
        if (_byteStart > 0)
        {
            _bytes.AsSpan(_byteStart, _byteEnd - _byteStart).CopyTo(_bytes);
            _byteEnd -= _byteStart;
            _byteStart = 0;
        }
        while (_byteEnd < _bytes.Length)
        {
            int n = _stream.Read(_bytes, _byteEnd, _bytes.Length - _byteEnd);
            if (n == 0)
            {
                _eof = true;
                break;
            }
            _byteEnd += n;
            BytesRead += n;
        }
    }

    public void Dispose() => _stream.Dispose();
}
