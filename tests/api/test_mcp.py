"""The MCP server at /mcp, driven by the official Python SDK (`mcp`) as a
real client over Streamable HTTP with a bearer token, against the real host;
and a few raw requests for what the SDK never sends wrong."""

import asyncio
import json
import time
import uuid

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

RECENT = "todo://events/recent"
INVALID_PARAMS = -32602
TOOLS = {
    "list_tasks", "get_task", "create_task", "update_task", "complete_task", "delete_task", "task_history",
    "list_notifications", "mark_notification_read", "mark_all_notifications_read",
}
# Events reach the MCP server's subscription after the write commits.
DELIVERY_TIMEOUT_S = 20


def client(host, user_id: str, mode: str = "auto") -> Client:
    http = httpx2.AsyncClient(headers=host.auth(user_id), timeout=30)
    return Client(streamable_http_client(f"{host.url}/mcp", http_client=http), mode=mode, cache=None)


def run(scenario):
    return asyncio.run(scenario())


async def recent_events(mcp: Client) -> list[dict]:
    result = await mcp.read_resource(RECENT)
    (content,) = result.contents
    assert content.mime_type == "application/json"
    return json.loads(content.text)["events"]


async def wait_for_events(mcp: Client, count: int) -> list[dict]:
    """The user's recent events once `count` have arrived (bounded)."""
    deadline = time.monotonic() + DELIVERY_TIMEOUT_S
    while True:
        events = await recent_events(mcp)
        if len(events) >= count or time.monotonic() > deadline:
            return events
        await asyncio.sleep(0.05)  # polling the condition, bounded by the deadline


# The SDK warns that ping is gone from 2026-07-28; the handshake era still has it.
@pytest.mark.filterwarnings("ignore:ping is removed")
@pytest.mark.parametrize("mode, version", [("auto", "2026-07-28"), ("legacy", "2025-11-25")])
def test_initialize_and_list_tools_with_their_schemas(host, user, mode, version):
    async def scenario():
        async with client(host, user, mode) as mcp:
            assert mcp.protocol_version == version
            assert mcp.server_capabilities.tools is not None
            assert mcp.server_capabilities.resources is not None
            if mode == "legacy":  # ping is gone from 2026-07-28
                await mcp.send_ping()
            tools = {tool.name: tool for tool in (await mcp.list_tools()).tools}
            assert set(tools) == TOOLS
            for tool in tools.values():
                assert tool.input_schema["type"] == "object", tool.name
                assert tool.output_schema["type"] == "object", tool.name
                assert "$ref" not in json.dumps(tool.input_schema) + json.dumps(tool.output_schema), tool.name
            create = tools["create_task"]
            assert create.input_schema["required"] == ["title"]
            assert create.input_schema["properties"]["idempotency_key"]["maxLength"] == 200
            assert create.input_schema["additionalProperties"] is False
            limit = tools["list_tasks"].input_schema["properties"]["limit"]
            assert (limit["minimum"], limit["maximum"]) == (1, 100)
            sort = tools["list_tasks"].input_schema["properties"]["sort"]
            assert {"created_at", "due_date", "title"} <= set(json.dumps(sort).replace('"', " ").split())
            assert tools["update_task"].input_schema["required"] == ["id"]
            assert set(tools["get_task"].output_schema["required"]) >= {"id", "title", "completed"}
            hints = {name: (t.annotations.read_only_hint, t.annotations.destructive_hint, t.annotations.idempotent_hint)
                     for name, t in tools.items()}
            assert hints["list_tasks"] == (True, False, True)
            assert hints["create_task"] == (False, False, False)
            assert hints["delete_task"] == (False, True, True)
            assert hints["complete_task"] == (False, False, True)
            resources = (await mcp.list_resources()).resources
            assert [str(r.uri) for r in resources] == [RECENT]

    run(scenario)


def test_tools_change_tasks_the_api_shows_and_the_recent_events_follow(host, user):
    async def scenario():
        async with client(host, user) as mcp:
            key = f"mcp-{uuid.uuid4()}"
            arguments = {"title": "  Water the plants ", "priority": "high", "tags": ["home"], "idempotency_key": key}
            created = await mcp.call_tool("create_task", arguments)
            assert not created.is_error, created.content
            task = created.structured_content
            assert (task["title"], task["priority"], task["completed"]) == ("Water the plants", "high", False)
            again = await mcp.call_tool("create_task", arguments)
            assert again.structured_content["id"] == task["id"], "the idempotency key replays the first task"
            reused = await mcp.call_tool("create_task", {**arguments, "title": "Other"})
            assert reused.is_error and "idempotency_key_reused" in reused.content[0].text

            done = await mcp.call_tool("complete_task", {"id": task["id"]})
            assert done.structured_content["completed"] is True

            with host.client(user) as api:
                seen = api.get(f"/api/todos/{task['id']}")
                assert seen.status_code == 200
                assert seen.json() == done.structured_content
                listed = (await mcp.call_tool("list_tasks", {"completed": True})).structured_content
                assert [t["id"] for t in listed["items"]] == [task["id"]]
                history = (await mcp.call_tool("task_history", {"id": task["id"]})).structured_content
                assert [h["event_type"] for h in history["items"]] == ["task.created", "task.completed"]

            events = await wait_for_events(mcp, 2)
            assert [(e["type"], e["data"]["task_id"]) for e in events] == [
                ("task.completed", task["id"]),
                ("task.created", task["id"]),
            ], events
            assert events[0]["data"]["task"]["completed"] is True
            assert events[0]["time"] >= events[1]["time"]
            assert [e["id"] for e in events] == [h["event_id"] for h in reversed(history["items"])]

        async with client(host, f"{user}-other") as other:
            assert await recent_events(other) == []
            hidden = await other.call_tool("get_task", {"id": task["id"]})
            assert hidden.is_error and "not_found" in hidden.content[0].text
            assert (await other.call_tool("list_tasks", {})).structured_content["items"] == []

    run(scenario)


def test_deleting_through_a_tool(host, user):
    async def scenario():
        async with client(host, user) as mcp:
            task = (await mcp.call_tool("create_task", {"title": "Temporary"})).structured_content
            deleted = await mcp.call_tool("delete_task", {"id": task["id"]})
            assert deleted.structured_content == {"deleted": task["id"]}
            gone = await mcp.call_tool("get_task", {"id": task["id"]})
            assert gone.is_error and "no such task" in gone.content[0].text
            with host.client(user) as api:
                assert api.get(f"/api/todos/{task['id']}").status_code == 404

    run(scenario)


def test_bad_arguments_and_unknown_tools_are_mcp_errors(host, user):
    async def scenario():
        async with client(host, user) as mcp:
            for name, arguments, field in [
                ("list_tasks", {"limit": "ten"}, "limit"),
                ("list_tasks", {"sort": "size"}, "sort"),
                ("create_task", {"priority": "high"}, "title"),
                ("create_task", {"title": "x", "colour": "red"}, "colour"),
                ("get_task", {}, "id"),
            ]:
                with pytest.raises(MCPError) as error:
                    await mcp.call_tool(name, arguments)
                assert error.value.code == INVALID_PARAMS, (name, arguments)
                assert field in str(error.value), (name, arguments, str(error.value))
            with pytest.raises(MCPError) as error:
                await mcp.call_tool("no_such_tool", {})
            assert error.value.code == INVALID_PARAMS
            # What the API refuses is the tool's own failure, with the API's message.
            for arguments, message in [
                ({"title": "   "}, "title: must not be empty"),
                ({"title": "x" * 501}, "title: must be at most 500 characters"),
                ({"title": "x", "due_date": "tomorrow"}, "due_date: must be an RFC 3339"),
            ]:
                refused = await mcp.call_tool("create_task", arguments)
                assert refused.is_error and message in refused.content[0].text, refused.content
            limit = await mcp.call_tool("list_tasks", {"limit": 0})
            assert limit.is_error and "limit: must be an integer between 1 and 100" in limit.content[0].text
            bad_id = await mcp.call_tool("get_task", {"id": "not-a-uuid"})
            assert bad_id.is_error and "invalid_id" in bad_id.content[0].text
            with pytest.raises(MCPError):
                await mcp.read_resource("todo://nothing")

    run(scenario)


def test_no_token_is_401_with_www_authenticate(host):
    body = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    with host.client() as raw:
        for headers in [{}, {"authorization": "Bearer not-a-token"}]:
            response = raw.post("/mcp", json=body, headers=headers)
            assert response.status_code == 401
            assert response.headers["www-authenticate"].startswith("Bearer")
            assert response.json()["error"]["code"] == "unauthorized"

    async def scenario():
        http = httpx2.AsyncClient(timeout=30)
        with pytest.raises(Exception):
            async with Client(streamable_http_client(f"{host.url}/mcp", http_client=http), cache=None):
                pass

    run(scenario)


MODERN_META = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientCapabilities": {},
}


def rpc(raw: httpx2.Client, message, headers=None) -> httpx2.Response:
    content = message if isinstance(message, bytes) else json.dumps(message).encode()
    return raw.post("/mcp", content=content, headers={"content-type": "application/json", **(headers or {})})


def modern_headers(method: str, **extra) -> dict[str, str]:
    return {"mcp-protocol-version": "2026-07-28", "mcp-method": method, **extra}


def test_the_wire_for_what_the_sdk_never_sends_wrong(host, user):
    with host.client(user) as raw:
        assert raw.get("/mcp").status_code == 405
        note = rpc(raw, {"jsonrpc": "2.0", "method": "notifications/initialized"})
        assert (note.status_code, note.content) == (202, b"")
        parse = rpc(raw, b"{not json")
        assert parse.status_code == 400 and parse.json()["error"]["code"] == -32700
        invalid = rpc(raw, {"jsonrpc": "1.0", "id": 3, "method": "ping"})
        assert invalid.status_code == 400 and invalid.json() == {
            "jsonrpc": "2.0", "id": 3, "error": invalid.json()["error"]} and invalid.json()["error"]["code"] == -32600
        unknown = rpc(raw, {"jsonrpc": "2.0", "id": 4, "method": "tasks/explode"})
        assert unknown.json()["error"]["code"] == -32601
        for asked, answered in [("2024-11-05", "2024-11-05"), ("2025-06-18", "2025-06-18"), ("1999-01-01", "2025-11-25")]:
            init = rpc(raw, {"jsonrpc": "2.0", "id": 5, "method": "initialize",
                             "params": {"protocolVersion": asked, "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}})
            assert init.status_code == 200 and init.json()["result"]["protocolVersion"] == answered
            assert "mcp-session-id" not in init.headers

        discover = {"jsonrpc": "2.0", "id": 6, "method": "server/discover", "params": {"_meta": MODERN_META}}
        found = rpc(raw, discover, modern_headers("server/discover"))
        assert found.status_code == 200
        assert "2026-07-28" in found.json()["result"]["supportedVersions"]
        assert found.json()["result"]["resultType"] == "complete"
        mismatch = rpc(raw, discover, modern_headers("tools/list"))
        assert mismatch.status_code == 400 and mismatch.json()["error"]["code"] == -32020
        old = {**discover, "params": {"_meta": {**MODERN_META, "io.modelcontextprotocol/protocolVersion": "2099-01-01"}}}
        unsupported = rpc(raw, old, {"mcp-protocol-version": "2099-01-01", "mcp-method": "server/discover"})
        assert unsupported.status_code == 400 and unsupported.json()["error"]["code"] == -32022
        assert unsupported.json()["error"]["data"]["supported"] == ["2026-07-28"]
        call = {"jsonrpc": "2.0", "id": 7, "method": "tools/call",
                "params": {"name": "list_tasks", "arguments": {}, "_meta": MODERN_META}}
        wrong_name = rpc(raw, call, modern_headers("tools/call", **{"mcp-name": "get_task"}))
        assert wrong_name.json()["error"]["code"] == -32020
        listed = rpc(raw, call, modern_headers("tools/call", **{"mcp-name": "list_tasks"}))
        assert listed.json()["result"]["structuredContent"] == {"items": [], "next_cursor": None}
        no_method = rpc(raw, {"jsonrpc": "2.0", "id": 8, "method": "tasks/explode", "params": {"_meta": MODERN_META}},
                        modern_headers("tasks/explode"))
        assert no_method.status_code == 404 and no_method.json()["error"]["code"] == -32601
