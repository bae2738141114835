"""Run by the reference SDK's own Python (``.venv-reference``), never by the project's.

Drives every OMP 0.1 verb of the reference ``AsyncMemory`` passthrough client against the
server at argv[1] with the API key argv[2] for user argv[3], and prints one JSON object
per line: ``{"verb", "ok", "value" | "error"}``.
"""

import asyncio
import json
import sys


async def main(url: str, key: str, user: str) -> None:
    from openmem import AsyncMemory

    def say(verb: str, value: object = None, error: BaseException | None = None) -> None:
        line = {"verb": verb, "ok": error is None}
        if error is None:
            line["value"] = value
        else:
            line["error"] = f"{type(error).__name__}: {error}"
        print(json.dumps(line, default=str), flush=True)

    async with AsyncMemory(provider="passthrough", base_url=url, api_key=key) as mem:
        calls = {
            "capabilities": lambda: mem.capabilities(),
            "add": lambda: mem.add(content="prefers pnpm over npm", user_id=user, scope="coding"),
        }
        results = {}
        for verb, call in calls.items():
            try:
                results[verb] = await call()
                say(verb, results[verb].model_dump(mode="json"))
            except Exception as exc:
                say(verb, error=exc)
                return
        memory_id = results["add"].id
        steps = [
            ("get", lambda: mem.get(memory_id)),
            ("update", lambda: mem.update(memory_id, content="prefers pnpm over yarn")),
            ("list", lambda: mem.list(user)),
            ("search", lambda: mem.search("pnpm yarn", user)),
            ("context", lambda: mem.context("pnpm yarn", user)),
            ("audit", lambda: mem.audit(user)),
            ("delete", lambda: mem.delete(memory_id)),
            ("get_deleted", lambda: mem.get(memory_id)),
        ]
        for verb, call in steps:
            try:
                value = await call()
            except Exception as exc:
                say(verb, error=exc)
                continue
            if isinstance(value, list):
                say(verb, [v.model_dump(mode="json") for v in value])
            elif value is None:
                say(verb, None)
            else:
                say(verb, value.model_dump(mode="json"))


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
