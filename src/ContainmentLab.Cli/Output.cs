using Spectre.Console;

namespace ContainmentLab.Cli;

/// <summary>The console to write tables to: a terminal as it is; a pipe or CI log gets plain text at a readable width.</summary>
internal static class Output
{
    public static IAnsiConsole Console()
    {
        if (!System.Console.IsOutputRedirected)
        {
            return AnsiConsole.Console;
        }

        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
            Out = new AnsiConsoleOutput(System.Console.Out),
        });
        console.Profile.Width = 160;
        return console;
    }
}
