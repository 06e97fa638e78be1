"""The HTTP server the test fixtures' own servers (token service, fault proxy, redirect target)
are built on: threads per connection on 127.0.0.1, HTTP/1.1 keep-alive, and a record of open
connections so that stopping a server also ends its handler threads (a keep-alive handler
would otherwise wait for its client's next request)."""
import http.server
import socket
import threading
import time


class Service:
    """What every fixture (registry process, token service, fault proxy) is used as: a context
    manager over its start() and stop()."""

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()


class RequestLog:
    """The record of requests a fixture's server keeps, written by its handler threads and read
    by tests as snapshots (copies: a test never sees an entry change under it)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._entries = []

    def add(self, entry):
        with self._lock:
            self._entries.append(entry)

    def snapshot(self):
        with self._lock:
            return [dict(e) for e in self._entries]

    def clear(self):
        with self._lock:
            self._entries.clear()


def assert_no_threads_left(timeout=5):
    """Fails when threads other than the main one are still running `timeout` s after the
    fixtures stopped: a server thread left behind would outlive its test."""
    deadline = time.monotonic() + timeout
    while threading.active_count() > 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    others = [t.name for t in threading.enumerate() if t is not threading.main_thread()]
    if others:
        raise AssertionError(f"threads left running: {others}")


class TrackingServer(http.server.ThreadingHTTPServer):
    """A ThreadingHTTPServer on a free port of 127.0.0.1 that knows its open connections."""
    daemon_threads = True
    block_on_close = False

    def __init__(self, handler):
        self._conns = {}  # socket -> the thread serving it
        self._conns_lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), handler)

    def track(self, sock, add):
        with self._conns_lock:
            if add:
                self._conns[sock] = threading.current_thread()
            else:
                self._conns.pop(sock, None)

    def shut_down(self, thread, timeout=10):
        """Stops serve_forever() running in `thread` (None or not started: nothing to stop),
        ends every open connection, closes the socket and joins the thread."""
        if thread is not None and thread.is_alive():
            self.shutdown()
        self.close_all(timeout)
        self.server_close()
        if thread is not None and thread.ident is not None:
            thread.join(timeout)

    def close_all(self, timeout=10):
        """Shuts every open connection down and waits up to `timeout` s for their threads."""
        with self._conns_lock:
            conns = list(self._conns.items())
        for sock, _ in conns:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        deadline = time.monotonic() + timeout
        for _, thread in conns:
            if thread is not threading.current_thread():
                thread.join(max(0.0, deadline - time.monotonic()))


class TrackingHandler(http.server.BaseHTTPRequestHandler):
    """Registers its connection with its TrackingServer for as long as it serves it."""
    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        self.server.track(self.connection, True)

    def finish(self):
        try:
            super().finish()
        except OSError:
            pass  # the client went away: nothing left to flush
        finally:
            self.server.track(self.connection, False)

    def log_message(self, fmt, *args):
        pass  # tests read the servers' own request logs, not stderr noise
