"""The real host for the API tests: `target/debug/todo-host up` on a free
loopback port with a fresh data directory and a JWT secret of the run's own,
started once per session and stopped at its end. Tokens are signed here with
that secret, as any issuer sharing it would."""

import os
import pathlib
import select
import subprocess
import threading
import time
import uuid

import httpx2
import jwt
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
HOST_BINARY = ROOT / "target" / "debug" / "todo-host"
LISTENING = "todo-host listening on "
START_TIMEOUT_S = 120


class Host:
    def __init__(self, url: str, secret: str, data_dir: pathlib.Path, env: dict[str, str]):
        self.url = url
        self.secret = secret
        self.data_dir = data_dir
        self.env = env

    def token(self, user_id: str) -> str:
        claims = {"sub": user_id, "exp": int(time.time()) + 3600}
        return jwt.encode(claims, self.secret, algorithm="HS256")

    def auth(self, user_id: str) -> dict[str, str]:
        return {"authorization": f"Bearer {self.token(user_id)}"}

    def client(self, user_id: str | None = None) -> httpx2.Client:
        headers = self.auth(user_id) if user_id else {}
        return httpx2.Client(base_url=self.url, headers=headers, timeout=30)

    def run_job(self, component: str, at: str) -> None:
        """Runs a scheduled job once for the tick at `at`, on the host's data."""
        command = [str(HOST_BINARY), "job", component, "--at", at, "-f", str(ROOT / "spin.toml"),
                   "--data-dir", str(self.data_dir)]
        subprocess.run(command, cwd=ROOT, env=self.env, check=True, capture_output=True, timeout=120)


def _address(process: subprocess.Popen, deadline: float) -> str:
    """The URL the host prints once it listens (it loads every component first)."""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            break
        line = process.stdout.readline()
        if not line:
            raise RuntimeError(f"todo-host exited with {process.wait()} before listening")
        if line.startswith(LISTENING):
            return line[len(LISTENING) :].strip()
    raise RuntimeError(f"todo-host did not listen within {START_TIMEOUT_S} s")


def _wait_ready(url: str, deadline: float) -> None:
    """Until /readyz answers 200: every component loaded, every backend up."""
    with httpx2.Client(base_url=url, timeout=5) as client:
        while time.monotonic() < deadline:
            if client.get("/readyz").status_code == 200:
                return
            time.sleep(0.05)  # polling a condition, bounded by the deadline
    raise RuntimeError("todo-host never became ready")


def _drain(stream, sink) -> None:
    for line in stream:
        sink.write(line)
        sink.flush()


@pytest.fixture(scope="session")
def host(tmp_path_factory) -> Host:
    if not HOST_BINARY.exists():
        pytest.fail(f"{HOST_BINARY} is missing: cargo build -p todo-host")
    work = tmp_path_factory.mktemp("host")
    log_path = work / "host.log"
    secret = uuid.uuid4().hex
    env = {**os.environ, "TODO_JWT_SECRET": secret, "RUST_LOG": os.environ.get("RUST_LOG", "info")}
    data_dir = work / "data"
    command = [str(HOST_BINARY), "up", "--listen", "127.0.0.1:0", "-f", str(ROOT / "spin.toml"),
               "--data-dir", str(data_dir)]
    with open(log_path, "w") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=log, text=True)
        try:
            deadline = time.monotonic() + START_TIMEOUT_S
            url = _address(process, deadline)
            threading.Thread(target=_drain, args=(process.stdout, log), daemon=True).start()
            _wait_ready(url, deadline)
            yield Host(url, secret, data_dir, env)
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
def user() -> str:
    """A user of the test's own, so tests never see each other's data."""
    return f"user-{uuid.uuid4().hex[:12]}"
