"""The one door to Microsoft Graph: raw JSON over the msgraph-sdk request adapter.

    open_graph(tenant, base_url=, token=, env=, clock=) -> Graph
    Graph.request / get_all / batch / send / scope / aclose, Graph.stats, Graph.on_write
    GraphResponse, Request, BatchItem, GraphStats, RetryPolicy
    GraphError, AmbiguousWrite
    crisiskit.graph.consistency: settle, look_up, confirm, is_gone, ...

Importing this package does not import msgraph, kiota nor azure: they load on first use.
"""

from crisiskit.graph.body import encode_body
from crisiskit.graph.client import Graph, Scope, WriteHook
from crisiskit.graph.connect import graph_base_url, graph_scope, open_graph
from crisiskit.graph.errors import AmbiguousWrite, GraphError
from crisiskit.graph.policy import RetryPolicy
from crisiskit.graph.types import BatchItem, GraphResponse, GraphStats, Request

__all__ = [
    "AmbiguousWrite",
    "BatchItem",
    "Graph",
    "GraphError",
    "GraphResponse",
    "GraphStats",
    "Request",
    "RetryPolicy",
    "Scope",
    "WriteHook",
    "encode_body",
    "graph_base_url",
    "graph_scope",
    "open_graph",
]
