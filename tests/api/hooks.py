"""Schemathesis hooks for the API tests: two values a fuzzer cannot make
and the API rightly refuses when made up.

- An `Idempotency-Key` names one request: a key reused with another body is
  422 `idempotency_key_reused`, as documented. Generated keys repeat (the
  fuzzer favours small values), which would turn valid creates into that
  422, so each valid key gets a unique suffix; invalid ones (empty, too
  long) are left as they are.
- A `cursor` is a token of the API's own (a page's `next_cursor`); any other
  string is 400 `invalid_query`, as documented. A generated one is dropped;
  one the API issued (passed along the `next_cursor` links of the stateful
  phase) is kept. Its schema is any string, so nothing negative is lost.
  A task list's cursor holds the sort and order it was made for, which a
  client repeats with it (another is 400); a valid request does so.
"""

import base64
import binascii
import json
import uuid

import schemathesis
from schemathesis import GenerationMode

MAX_KEY_CHARS = 200


def unique_key(key):
    if not isinstance(key, str) or not key.strip() or len(key) > MAX_KEY_CHARS:
        return key
    suffix = uuid.uuid4().hex
    return f"{key[: MAX_KEY_CHARS - len(suffix) - 1]}-{suffix}"


def issued(cursor) -> dict | None:
    """The content of a cursor the API issued (url-safe base64 of a JSON object), else None."""
    if not isinstance(cursor, str):
        return None
    try:
        content = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    return content if isinstance(content, dict) else None


@schemathesis.hook
def map_case(ctx, case):
    if case.headers and "Idempotency-Key" in case.headers:
        case.headers["Idempotency-Key"] = unique_key(case.headers["Idempotency-Key"])
    if case.query and "cursor" in case.query:
        cursor = issued(case.query["cursor"])
        if cursor is None:
            del case.query["cursor"]
        elif case.meta is not None and case.meta.generation.mode == GenerationMode.POSITIVE:
            case.query.update({k: cursor[k] for k in ("sort", "order") if k in cursor})
    return case
