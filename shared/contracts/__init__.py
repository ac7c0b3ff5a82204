"""The contracts between components, one module per boundary; see each module's docstring."""

from shared.contracts.agent_config import (
    AgentConfig,
    AgentFields,
    AgentPatch,
    AgentStatus,
    BuiltinTool,
    HttpTool,
    NewAgent,
    Pipeline,
    SecretRef,
    ToolSpec,
)
from shared.contracts.dispatch import DispatchMetadata, RoomMetadata, SessionKind
from shared.contracts.sessions import (
    CallSession,
    CallTurn,
    EndReason,
    NewCallSession,
    SessionStatus,
    TokenUsage,
    Transcript,
)

__all__ = [
    "AgentConfig",
    "AgentFields",
    "AgentPatch",
    "AgentStatus",
    "BuiltinTool",
    "CallSession",
    "CallTurn",
    "DispatchMetadata",
    "EndReason",
    "HttpTool",
    "NewAgent",
    "NewCallSession",
    "Pipeline",
    "RoomMetadata",
    "SecretRef",
    "SessionKind",
    "SessionStatus",
    "TokenUsage",
    "ToolSpec",
    "Transcript",
]
