namespace ContainmentLab.Tests.Support;

internal static class TaskBounds
{
    /// <summary>Awaits a task that must end: a bug that hangs it fails the test instead of hanging the run.</summary>
    public static Task<T> OrTimeout<T>(this Task<T> task, int seconds = 30) => task.WaitAsync(TimeSpan.FromSeconds(seconds));

    public static Task OrTimeout(this Task task, int seconds = 30) => task.WaitAsync(TimeSpan.FromSeconds(seconds));
}
