using System.Text;

namespace ContainmentLab.Bridge;

/// <summary>A bounded rolling tail of what the agent wrote to stderr. Free text: logged, never parsed for control.</summary>
public sealed class StderrTail(int capacity = 8 * 1024)
{
    private readonly Lock _lock = new();
    private readonly StringBuilder _text = new();

    public void Append(string line)
    {
        lock (_lock)
        {
            _text.Append(line).Append('\n');
            if (_text.Length > capacity)
            {
                _text.Remove(0, _text.Length - capacity);
            }
        }
    }

    public override string ToString()
    {
        lock (_lock)
        {
            return _text.ToString();
        }
    }
}
