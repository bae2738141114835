"""A LangGraph graph that remembers across threads, with openmem as its store.

Two conversations (two checkpointer threads) of the same user: what the first one was told,
the second one recalls, because the facts live in the store, not in the thread's state.
Run it with ``python examples/langgraph_agent.py`` (extra ``langgraph``). It uses the
in-memory provider; pass ``provider="postgres", url=...`` to ``Memory`` to keep the facts.
"""

from __future__ import annotations

from typing import TypedDict

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.store.base import BaseStore

from openmem import Memory
from openmem.integrations.langgraph import OpenMemStore


class Turn(TypedDict, total=False):
    message: str
    reply: str


def respond(state: Turn, config: RunnableConfig, *, store: BaseStore) -> Turn:
    """Remember "remember ..." messages; answer anything else from what was remembered."""
    user = config["configurable"]["user_id"]
    namespace = ("memories", user)
    text = state["message"]
    if text.lower().startswith("remember "):
        fact = text[len("remember ") :]
        known = len(store.search(namespace, limit=100))
        store.put(namespace, f"fact-{known + 1}", {"text": fact})
        return {"reply": f"Noted: {fact}"}
    hits = store.search(namespace, query=text, limit=1)
    if not hits:
        return {"reply": "I don't know that yet."}
    return {"reply": f"You told me: {hits[0].value['text']}"}


def build_graph(store: BaseStore):  # type: ignore[no-untyped-def]
    builder = StateGraph(Turn)
    builder.add_node("respond", respond)
    builder.add_edge(START, "respond")
    builder.add_edge("respond", END)
    return builder.compile(checkpointer=InMemorySaver(), store=store)


def main() -> None:
    with Memory(provider="inmemory") as memory:
        # The store acts for one openmem user; LangGraph's namespace becomes the scope.
        graph = build_graph(OpenMemStore(memory, user_id="langgraph-app", index=["text"]))
        first = {"configurable": {"thread_id": "monday", "user_id": "alice"}}
        second = {"configurable": {"thread_id": "friday", "user_id": "alice"}}
        stranger = {"configurable": {"thread_id": "other", "user_id": "bob"}}
        for config, message in [
            (first, "remember I drink green tea every morning"),
            (second, "what do I drink every morning?"),
            (stranger, "what do I drink every morning?"),
        ]:
            out = graph.invoke({"message": message}, config)
            who = config["configurable"]
            print(f"[{who['thread_id']}/{who['user_id']}] {message} -> {out['reply']}")


if __name__ == "__main__":
    main()
