using System.Buffers;
using System.Buffers.Text;
using System.Text.Json;

namespace ContainmentLab.Protocol;

/// <summary>
/// Reads the JSON-RPC envelope of a line too long to parse — its top-level <c>id</c>, whether it has a top-level
/// <c>method</c>, <c>result</c> or <c>error</c> — from the bytes as they stream past, in constant memory. The line's
/// head is not enough: a serializer may write <c>params</c> (the huge part) before <c>id</c> or <c>method</c>, and a
/// request whose id is past the head would be answered with a null id, leaving the agent waiting on it for ever (G9).
/// </summary>
/// <remarks>
/// Only the top level is interpreted; nested values are skipped by counting brackets outside strings, and strings with
/// a vectorized search for the quote and the backslash, so a 64 MiB string costs about what finding its newline costs.
/// Malformed JSON stops the scan: what was read before the fault stands, as in <see cref="RequestRecovery"/>.
/// </remarks>
internal sealed class EnvelopeScanner
{
    /// <summary>The longest id kept (its JSON token, quotes included); a longer one cannot be answered under.</summary>
    public const int MaxIdBytes = 256;

    private static readonly SearchValues<byte> s_stringStops = SearchValues.Create("\"\\"u8);
    private static readonly SearchValues<byte> s_nestedStops = SearchValues.Create("\"{}[]"u8);

    private readonly byte[] _id = new byte[MaxIdBytes];
    private State _state;
    private Key _key;
    private int _keyLength;
    private int _idLength;
    private bool _idOverflow;
    private bool _escape;
    private bool _stringHasEscape;
    private int _depth;
    private RpcId? _foundId;
    private bool _hasMethod;
    private bool _hasResultOrError;

    private enum State
    {
        Start,
        ExpectKey,
        InKey,
        ExpectColon,
        ExpectValue,
        InString,
        InIdString,
        InIdNumber,
        InScalar,
        InNested,
        InNestedString,
        ExpectCommaOrEnd,
        Stopped,
    }

    private enum Key
    {
        Other,
        Id,
        Method,
        Result,
        Error,
    }

    /// <summary>What was found so far: complete once the whole line was fed.</summary>
    public RecoveredEnvelope Envelope => new(_foundId, _hasMethod, _hasResultOrError);

    public void Reset()
    {
        _state = State.Start;
        _key = Key.Other;
        _keyLength = _idLength = _depth = 0;
        _idOverflow = _escape = _stringHasEscape = false;
        _foundId = null;
        _hasMethod = _hasResultOrError = false;
    }

    /// <summary>Feeds the next bytes of the line (never its terminator).</summary>
    public void Feed(ReadOnlySpan<byte> bytes)
    {
        var i = 0;
        while (i < bytes.Length && _state != State.Stopped)
        {
            switch (_state)
            {
                case State.InString or State.InNestedString or State.InIdString:
                    i = SkipString(bytes, i);
                    continue;
                case State.InNested:
                    i = SkipNested(bytes, i);
                    continue;
            }

            Step(bytes[i]);
            i++;
        }
    }

    /// <summary>One byte outside any string and at depth 1 or 0: the small, rare part of a huge line.</summary>
    private void Step(byte b)
    {
        var whitespace = b is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n';
        switch (_state)
        {
            case State.Start:
                _state = whitespace ? State.Start : b == (byte)'{' ? State.ExpectKey : State.Stopped;
                break;
            case State.ExpectKey:
                if (b == (byte)'"')
                {
                    _state = State.InKey;
                    _key = Key.Other;
                    _keyLength = 0;
                }
                else if (!whitespace)
                {
                    _state = State.Stopped; // '}' ends the object, anything else is a fault: either way nothing more to learn
                }

                break;
            case State.InKey:
                ReadKeyByte(b);
                break;
            case State.ExpectColon:
                _state = whitespace ? State.ExpectColon : b == (byte)':' ? State.ExpectValue : State.Stopped;
                break;
            case State.ExpectValue:
                if (!whitespace)
                {
                    BeginValue(b);
                }

                break;
            case State.InIdNumber:
                if (b is (byte)',' or (byte)'}' || whitespace)
                {
                    EndIdNumber();
                    _state = State.ExpectCommaOrEnd;
                    Step(b);
                }
                else
                {
                    Capture(b);
                }

                break;
            case State.InScalar:
                if (b is (byte)',' or (byte)'}' || whitespace)
                {
                    _state = State.ExpectCommaOrEnd;
                    Step(b);
                }

                break;
            case State.ExpectCommaOrEnd:
                _state = whitespace ? State.ExpectCommaOrEnd : b == (byte)',' ? State.ExpectKey : State.Stopped;
                break;
        }
    }

    private void ReadKeyByte(byte b)
    {
        if (_escape)
        {
            _escape = false;
            return;
        }

        if (b == (byte)'\\')
        {
            // An escaped key ("\u0069d") is rare enough to be read as some other key.
            _escape = true;
            _keyLength = int.MaxValue;
            return;
        }

        if (b != (byte)'"')
        {
            _keyLength = _keyLength < 8 ? _keyLength + 1 : int.MaxValue;
            _key = (_keyLength, _key, b) switch
            {
                (1, _, (byte)'i') => Key.Id,
                (1, _, (byte)'m') => Key.Method,
                (1, _, (byte)'r') => Key.Result,
                (1, _, (byte)'e') => Key.Error,
                (2, Key.Id, (byte)'d') => Key.Id,
                (2, Key.Method, (byte)'e') or (3, Key.Method, (byte)'t') or (4, Key.Method, (byte)'h') or (5, Key.Method, (byte)'o') or (6, Key.Method, (byte)'d') => Key.Method,
                (2, Key.Result, (byte)'e') or (3, Key.Result, (byte)'s') or (4, Key.Result, (byte)'u') or (5, Key.Result, (byte)'l') or (6, Key.Result, (byte)'t') => Key.Result,
                (2, Key.Error, (byte)'r') or (3, Key.Error, (byte)'r') or (4, Key.Error, (byte)'o') or (5, Key.Error, (byte)'r') => Key.Error,
                _ => Key.Other,
            };
            return;
        }

        var complete = _key switch
        {
            Key.Id => _keyLength == 2,
            Key.Method or Key.Result => _keyLength == 6,
            Key.Error => _keyLength == 5,
            _ => false,
        };
        if (!complete)
        {
            _key = Key.Other;
        }

        _state = State.ExpectColon;
    }

    private void BeginValue(byte b)
    {
        if (_key is Key.Result or Key.Error)
        {
            _hasResultOrError = true;
        }

        if (_key == Key.Id)
        {
            // A later "id" replaces an earlier one, as the parser would read it; one that is not an integer or a string is none.
            _foundId = null;
            _idLength = 0;
            _idOverflow = false;
        }

        switch (b)
        {
            case (byte)'"':
                _hasMethod |= _key == Key.Method;
                _stringHasEscape = false;
                if (_key == Key.Id)
                {
                    Capture(b);
                    _state = State.InIdString;
                }
                else
                {
                    _state = State.InString;
                }

                break;
            case (byte)'{' or (byte)'[':
                _depth = 2;
                _state = State.InNested;
                break;
            case (byte)'-' or (>= (byte)'0' and <= (byte)'9') when _key == Key.Id:
                Capture(b);
                _state = State.InIdNumber;
                break;
            default:
                _state = State.InScalar;
                break;
        }
    }

    private int SkipString(ReadOnlySpan<byte> bytes, int i)
    {
        while (i < bytes.Length)
        {
            if (_escape)
            {
                _escape = false;
                CaptureIfId(bytes[i]);
                i++;
                continue;
            }

            var stop = bytes[i..].IndexOfAny(s_stringStops);
            if (stop < 0)
            {
                CaptureIfId(bytes[i..]);
                return bytes.Length;
            }

            CaptureIfId(bytes.Slice(i, stop + 1));
            i += stop + 1;
            if (bytes[i - 1] == (byte)'\\')
            {
                _escape = true;
                _stringHasEscape = true;
                continue;
            }

            EndString();
            return i;
        }

        return i;
    }

    private void EndString()
    {
        switch (_state)
        {
            case State.InNestedString:
                _state = State.InNested;
                break;
            case State.InIdString:
                EndIdString();
                _state = State.ExpectCommaOrEnd;
                break;
            default:
                _state = State.ExpectCommaOrEnd;
                break;
        }
    }

    private int SkipNested(ReadOnlySpan<byte> bytes, int i)
    {
        while (i < bytes.Length)
        {
            var stop = bytes[i..].IndexOfAny(s_nestedStops);
            if (stop < 0)
            {
                return bytes.Length;
            }

            i += stop + 1;
            switch (bytes[i - 1])
            {
                case (byte)'"':
                    _state = State.InNestedString;
                    return i;
                case (byte)'{' or (byte)'[':
                    _depth++;
                    break;
                default:
                    if (--_depth == 1)
                    {
                        _state = State.ExpectCommaOrEnd;
                        return i;
                    }

                    break;
            }
        }

        return i;
    }

    private void CaptureIfId(byte b)
    {
        if (_state == State.InIdString)
        {
            Capture(b);
        }
    }

    private void CaptureIfId(ReadOnlySpan<byte> bytes)
    {
        if (_state != State.InIdString)
        {
            return;
        }

        if (_idLength + bytes.Length > MaxIdBytes)
        {
            _idOverflow = true;
            return;
        }

        bytes.CopyTo(_id.AsSpan(_idLength));
        _idLength += bytes.Length;
    }

    private void Capture(byte b)
    {
        if (_idLength < MaxIdBytes)
        {
            _id[_idLength++] = b;
        }
        else
        {
            _idOverflow = true;
        }
    }

    private void EndIdNumber()
    {
        if (!_idOverflow && Utf8Parser.TryParse(_id.AsSpan(0, _idLength), out long number, out var consumed) && consumed == _idLength)
        {
            _foundId = RpcId.FromNumber(number);
        }
    }

    private void EndIdString()
    {
        if (_idOverflow)
        {
            return;
        }

        var token = _id.AsSpan(0, _idLength);
        if (!_stringHasEscape && System.Text.Unicode.Utf8.IsValid(token))
        {
            _foundId = RpcId.FromString(System.Text.Encoding.UTF8.GetString(token[1..^1]));
            return;
        }

        // Escapes (or bytes that are not UTF-8): the JSON reader decodes them, or says the id cannot be read.
        try
        {
            var reader = new Utf8JsonReader(token);
            if (reader.Read() && reader.TokenType == JsonTokenType.String)
            {
                _foundId = RpcId.FromString(reader.GetString()!);
            }
        }
        catch (JsonException)
        {
        }
        catch (InvalidOperationException)
        {
        }
    }
}
