"""Serve an ASGI app on a free loopback port in a background thread, for tests that need a real server."""

import socket
import threading
import time
from contextlib import contextmanager

import uvicorn


@contextmanager
def running_server(app, timeout: float = 30):
    """`app` served by uvicorn on a free loopback port in a background thread; stopped on exit."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    # A browser may keep a connection open (Gradio streams): give it 5 s to finish, then close it.
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=5)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=timeout)
        sock.close()
        assert not thread.is_alive(), "uvicorn did not stop"
