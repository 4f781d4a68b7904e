"""Running emitted graphs on onnxruntime (the only module, with training, importing it)."""

from onnxgraph.runtime._feeds import normalize_feeds
from onnxgraph.runtime._providers import RuntimeMissingError, import_onnxruntime, resolve_providers
from onnxgraph.runtime._runner import GraphRunner, make_session
from onnxgraph.runtime._threads import set_thread_spinning, thread_spinning

__all__ = ["GraphRunner", "make_session", "normalize_feeds", "resolve_providers", "import_onnxruntime",
           "RuntimeMissingError", "set_thread_spinning", "thread_spinning"]
