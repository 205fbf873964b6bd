namespace ContainmentLab.Tests.Support;

/// <summary>Waits for a condition that other threads make true, failing loudly (not hanging) if it never comes.</summary>
internal static class Until
{
    public static async Task TrueAsync(Func<bool> condition, string what, int timeoutMs = 20_000)
    {
        var deadline = Environment.TickCount64 + timeoutMs;
        while (!condition())
        {
            if (Environment.TickCount64 > deadline)
            {
                Assert.Fail($"gave up after {timeoutMs} ms waiting for: {what}");
            }

            await Task.Yield();
            await Task.Delay(1);
        }
    }
}
