"""REQUIRED: a Hypothesis state machine drives the provider and the reference side by side.

Random sequences of add / update / delete / get / list (and audit, when both declare it)
run against the provider under test and ``openmem.inmemory.InMemoryProvider``; after every
step the two must agree on contents and identity (never on search ranking). Hypothesis
shrinks a disagreement to the shortest sequence that shows it.

The machine's rules are synchronous, so it runs on a worker thread and sends each verb back
to the check's own event loop with ``anyio.from_thread.run``: the provider never leaves the
loop it was opened on.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import anyio.from_thread
import anyio.to_thread
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    rule,
    run_state_machine_as_test,
)

from openmem.errors import NotFoundError, OMPError
from openmem.inmemory import InMemoryProvider
from openmem.memory import AsyncMemory
from openmem.models import MemoryRecord
from openmem_conformance.check_context import CheckContext
from openmem_conformance.registry import Tier, check

T = TypeVar("T")

MAX_EXAMPLES = 12
STEPS = 14
WORDS = ["tea", "coffee", "dark", "mode", "python", "rust", "lisbon", "cello", "zebra", "note"]
SCOPES = [None, "work", "work/mail", "home", "home/garden"]
TAGS = ["t1", "t2", "t3"]
FIELDS = ("content", "scope", "tags", "metadata", "user_id")

contents = st.lists(st.sampled_from(WORDS), min_size=1, max_size=5).map(" ".join)
scopes = st.sampled_from(SCOPES)
tag_lists = st.lists(st.sampled_from(TAGS), max_size=2, unique=True)
metadata = st.dictionaries(st.sampled_from(["k", "n"]), st.integers(0, 3), max_size=2)


def _view(record: MemoryRecord) -> dict[str, Any]:
    data = {name: getattr(record, name) for name in FIELDS}
    data["tags"] = sorted(data["tags"])
    return data


def _machine(ctx: CheckContext, model: AsyncMemory) -> type[RuleBasedStateMachine]:
    audit_both = "audit" in ctx.capabilities.verbs

    def call(fn: Callable[[], Coroutine[Any, Any, T]]) -> T:
        return anyio.from_thread.run(fn)

    async def outcome(fn: Callable[[], Awaitable[T]]) -> tuple[str, T | None]:
        try:
            return "ok", await fn()
        except OMPError as exc:
            return exc.error_code, None

    class ProviderAgreesWithModel(RuleBasedStateMachine):
        """One user's memories in the provider and in the reference, step by step."""

        memories = Bundle("memories")

        @initialize()
        def start(self) -> None:
            self.user = ctx.user("model")
            self.ids: dict[str, str] = {}  # model id -> subject id

        def both(
            self, subject_fn: Callable[[], Awaitable[T]], model_fn: Callable[[], Awaitable[T]]
        ) -> tuple[T | None, T | None]:
            got, subject = call(lambda: outcome(subject_fn))
            want, reference = call(lambda: outcome(model_fn))
            assert got == want, f"provider gave {got!r} where the reference model gave {want!r}"
            return subject, reference

        def agree(self, subject: MemoryRecord, reference: MemoryRecord) -> None:
            assert self.ids.get(reference.id) == subject.id, "identity differs from the model"
            assert _view(subject) == _view(reference), (
                f"provider record {_view(subject)} differs from model {_view(reference)}"
            )

        @rule(target=memories, content=contents, scope=scopes, tags=tag_lists, meta=metadata)
        def add(
            self, content: str, scope: str | None, tags: list[str], meta: dict[str, int]
        ) -> str:
            fields: dict[str, Any] = {"scope": scope, "tags": tags, "metadata": meta}
            subject, reference = self.both(
                lambda: ctx.add(content, user_id=self.user, **fields),
                lambda: model.add(content, user_id=self.user, **fields),
            )
            assert subject is not None, "add returned nothing"
            assert reference is not None, "the model add returned nothing"
            self.ids[reference.id] = subject.id
            self.agree(subject, reference)
            return reference.id

        @rule(
            memory=memories, content=st.none() | contents, scope=st.none() | scopes, tags=tag_lists
        )
        def update(
            self, memory: str, content: str | None, scope: str | None, tags: list[str]
        ) -> None:
            fields: dict[str, Any] = {"tags": tags, "scope": scope}
            if content is not None:
                fields["content"] = content
            subject, reference = self.both(
                lambda: ctx.mem.update(self.ids[memory], user_id=self.user, **fields),
                lambda: model.update(memory, user_id=self.user, **fields),
            )
            if subject is not None and reference is not None:
                self.agree(subject, reference)

        @rule(memory=memories)
        def delete(self, memory: str) -> None:
            self.both(
                lambda: ctx.mem.delete(self.ids[memory], user_id=self.user),
                lambda: model.delete(memory, user_id=self.user),
            )

        @rule(memory=memories)
        def get(self, memory: str) -> None:
            subject, reference = self.both(
                lambda: ctx.mem.get(self.ids[memory], user_id=self.user),
                lambda: model.get(memory, user_id=self.user),
            )
            if subject is not None and reference is not None:
                self.agree(subject, reference)

        @rule(
            scope=scopes, tags=st.lists(st.sampled_from(TAGS), max_size=1), size=st.integers(1, 4)
        )
        def list_all(self, scope: str | None, tags: list[str], size: int) -> None:
            filters: dict[str, Any] = {"scope": scope, "tags": tags}
            subject = call(lambda: ctx.list_all(self.user, page_size=size, **filters))
            reference = call(lambda: _list_model(model, self.user, filters))
            mapped = {self.ids.get(r.id) for r in reference}
            assert {r.id for r in subject} == mapped, (
                f"list(scope={scope!r}, tags={tags!r}) returned {len(subject)} memories, "
                f"the model {len(reference)}"
            )
            by_id = {r.id: r for r in subject}
            for record in reference:
                self.agree(by_id[self.ids[record.id]], record)

        @rule()
        def audit(self) -> None:
            if not audit_both:
                return
            subject = call(lambda: ctx.mem.audit(self.user, limit=1000))
            reference = call(lambda: model.audit(self.user, limit=1000))
            writes = ("add", "update", "delete")
            reverse = {v: k for k, v in self.ids.items()}
            got = sorted(
                (e.action, reverse.get(e.memory_id or "", "?"))
                for e in subject
                if e.action in writes
            )
            want = sorted((e.action, e.memory_id or "") for e in reference if e.action in writes)
            assert got == want, f"audit of writes differs from the model: {got} != {want}"

    return ProviderAgreesWithModel


async def _list_model(model: AsyncMemory, user: str, filters: dict[str, Any]) -> list[MemoryRecord]:
    page = await model.list(user, limit=500, **filters)
    return page.items


@check(Tier.REQUIRED, timeout=300)
async def agrees_with_the_reference_model(ctx: CheckContext) -> None:
    """Random add/update/delete/get/list sequences agree with the in-memory reference.

    Troubleshooting: Hypothesis prints the shortest failing sequence of steps; replay it
    by hand against your provider. Typical causes: update not applying merge-patch rules,
    list filters differing from ``openmem.scopes``, delete leaving the row readable, or an
    error code that differs from the model's (e.g. provider_error instead of not_found).
    """
    model = AsyncMemory(provider=InMemoryProvider(), namespace=ctx.namespace)
    await model.initialize()
    machine = _machine(ctx, model)
    config = settings(
        max_examples=MAX_EXAMPLES,
        stateful_step_count=STEPS,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )
    try:
        await anyio.to_thread.run_sync(lambda: run_state_machine_as_test(machine, settings=config))
    except NotFoundError as exc:  # pragma: no cover - a rule bug, not a provider bug
        raise AssertionError(f"model test raised {exc!r}") from exc
    finally:
        await model.close()
    ctx.note(examples=MAX_EXAMPLES, steps=STEPS)
