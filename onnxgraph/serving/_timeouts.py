"""A deadline for request headers: uvicorn's keep-alive timer only runs between requests, so a
client sending headers a byte at a time (slowloris) would otherwise hold a connection forever."""

from __future__ import annotations

__all__ = ["header_deadline_protocol"]


class _HeaderDeadline:
    """Mixed into uvicorn's h11 protocol: a connection whose next request's headers are not complete
    `header_timeout` seconds after it opened (or after the previous answer) is closed."""

    header_timeout = 10.0
    _header_timer = None
    _waiting_for = None

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._header_timer is not None and self.cycle is not self._waiting_for:
            self._disarm()  # a new request cycle began: its headers are complete

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # Pipelined requests may already have started the next cycle inside the call above.
        if not self.transport.is_closing() and (self.cycle is None or self.cycle.response_complete):
            self._arm()

    def connection_lost(self, exc) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._waiting_for = self.cycle
        self._header_timer = self.loop.call_later(self.header_timeout, self._expired)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _expired(self) -> None:
        self._header_timer = None
        if self.cycle is self._waiting_for and not self.transport.is_closing():
            self.transport.close()


def header_deadline_protocol(header_timeout: float):
    """uvicorn's h11 protocol class with a header deadline (pass as `uvicorn.Config(http=...)`)."""
    from uvicorn.protocols.http.h11_impl import H11Protocol

    return type("DeadlineH11Protocol", (_HeaderDeadline, H11Protocol), {"header_timeout": float(header_timeout)})
