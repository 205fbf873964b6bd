using System.Globalization;

namespace ContainmentLab.Cli.Suite;

/// <summary><c>--shard K/N</c>: this run takes every Nth fixture of the sorted list, starting at the Kth; the N shards together run each fixture once.</summary>
public readonly record struct Shard(int Index, int Count)
{
    public static Shard All { get; } = new(1, 1);

    public static bool TryParse(string text, out Shard shard, out string? error)
    {
        shard = All;
        error = null;
        var parts = text.Split('/');
        if (parts.Length != 2
            || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var k)
            || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var n))
        {
            error = $"--shard '{text}': expected K/N, e.g. 1/2";
            return false;
        }

        if (n < 1 || k < 1 || k > n)
        {
            error = $"--shard '{text}': K must be between 1 and N, and N at least 1";
            return false;
        }

        shard = new Shard(k, n);
        return true;
    }

    public IReadOnlyList<T> Take<T>(IReadOnlyList<T> sorted)
    {
        var (index, count) = (Index, Count);
        return [.. sorted.Where((_, i) => i % count == index - 1)];
    }

    public override string ToString() => $"{Index}/{Count}";
}
