using System.Text.Json;

namespace ContainmentLab.Protocol;

public sealed record Implementation(string Name, string? Version = null);

public sealed record FileSystemCapability(bool ReadTextFile, bool WriteTextFile);

public sealed record ClientCapabilities(FileSystemCapability? Fs, bool Terminal);

public sealed record InitializeRequest(int ProtocolVersion, ClientCapabilities? ClientCapabilities, Implementation? ClientInfo = null);

public sealed record AgentCapabilities(bool LoadSession = false);

public sealed record InitializeResponse(int ProtocolVersion, AgentCapabilities? AgentCapabilities = null, Implementation? AgentInfo = null, IReadOnlyList<JsonElement>? AuthMethods = null);

public sealed record NewSessionRequest(string Cwd, IReadOnlyList<JsonElement> McpServers);

public sealed record NewSessionResponse(string SessionId);
