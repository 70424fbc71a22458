"""A FileIO wrapper that knows every file a write created, so an aborted write can remove them all.

pyiceberg writes data files on a shared thread pool; when one file fails (a full
pool), the others go on in the background. On abort the tracker refuses new files,
discards the ones still being written, waits for the ones being published, then deletes
every published one, so a failed write leaves nothing behind (not even reserved bytes)
when ``abort()`` returns.

With a lease, every file is pinned under it from the moment it is opened (before it
is published), so no reclaim can take it while the write is in flight.
"""

from __future__ import annotations

import threading
from types import TracebackType

from pyiceberg.io import FileIO, InputFile, OutputFile, OutputStream

from memcatalog import ownership
from memcatalog.errors import WriteAbortedError
from memcatalog.fileio import delete_quietly
from memcatalog.leases import Lease
from memcatalog.urls import is_pool_url


class TrackingFileIO(FileIO):
    def __init__(self, inner: FileIO, lease: Lease | None = None) -> None:
        super().__init__(inner.properties)
        self.inner = inner
        self.lease = lease
        self.created: list[str] = []
        self.aborted = False
        self._streams: list[_TrackedStream] = []
        self._creating = 0  # files being opened
        self._closing = 0  # streams being published
        self._lock = threading.Condition()

    def new_input(self, location: str) -> InputFile:
        return self.inner.new_input(location)

    def new_output(self, location: str) -> OutputFile:
        return _TrackedOutputFile(self.inner.new_output(location), self)

    def delete(self, location: str | InputFile | OutputFile) -> None:
        self.inner.delete(location)

    def abort(self) -> None:
        """Refuse new files, discard the ones still open, then delete every file created.

        A stream that publishes after this point sees ``aborted`` and deletes itself.
        """
        with self._lock:
            self.aborted = True
            self._lock.wait_for(lambda: self._creating == 0, timeout=60)
            streams = list(self._streams)
        for stream in streams:
            stream.discard()
        with self._lock:  # a stream that was already publishing finishes first: then it is in the pool to delete
            self._lock.wait_for(lambda: self._closing == 0, timeout=60)
            created = list(self.created)
        for location in created:
            delete_quietly(self.inner, location)

    def committed(self) -> None:
        """Everything created so far is referenced by a committed snapshot: a later abort keeps it."""
        with self._lock:
            self.created = []
            self._streams = [s for s in self._streams if s.state == "open"]

    def _opened(self, location: str) -> None:
        with self._lock:
            if self.aborted:
                raise WriteAbortedError(f"write aborted; not creating {location}")
            if self.lease is not None and is_pool_url(location):
                self.lease.pin(*ownership.split(location))
            self.created.append(location)
            self._creating += 1

    def _register(self, stream: _TrackedStream | None) -> None:
        with self._lock:
            self._creating -= 1
            if stream is not None:
                self._streams.append(stream)
            self._lock.notify_all()


class _TrackedOutputFile(OutputFile):
    def __init__(self, inner: OutputFile, tracker: TrackingFileIO) -> None:
        super().__init__(inner.location)
        self.inner = inner
        self.tracker = tracker

    def __len__(self) -> int:
        return len(self.inner)

    def exists(self) -> bool:
        return self.inner.exists()

    def to_input_file(self) -> InputFile:
        return self.inner.to_input_file()

    def create(self, overwrite: bool = False) -> OutputStream:
        self.tracker._opened(self.location)
        try:
            stream = _TrackedStream(self.inner.create(overwrite=overwrite), self.tracker, self.location)
        except BaseException:
            self.tracker._register(None)
            raise
        self.tracker._register(stream)
        return stream


class _TrackedStream:
    def __init__(self, inner: OutputStream, tracker: TrackingFileIO, location: str) -> None:
        self.inner = inner
        self.tracker = tracker
        self.location = location
        self.state = "open"  # then "closing" (being published), "closed" or "discarded"

    def write(self, b: bytes) -> int:
        return self.inner.write(b)

    def tell(self) -> int:
        return self.inner.tell()

    @property
    def closed(self) -> bool:
        return self.state != "open"

    def close(self) -> None:
        tracker = self.tracker
        with tracker._lock:
            if self.state != "open":
                return
            self.state = "closing"
            tracker._closing += 1
        try:
            self.inner.close()
            if tracker.aborted:  # published after the abort's sweep: remove it here
                delete_quietly(tracker.inner, self.location)
        finally:
            with tracker._lock:
                self.state = "closed"
                tracker._closing -= 1
                tracker._lock.notify_all()

    def discard(self) -> None:
        """Drop the file unpublished (a memcat stream) or published-then-deleted (any other)."""
        with self.tracker._lock:
            if self.state != "open":
                return
            self.state = "discarded"
        discard = getattr(self.inner, "discard", None)
        if discard is not None:
            discard()
        else:
            self.inner.close()

    def __enter__(self) -> _TrackedStream:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is not None:
            self.discard()
        else:
            self.close()
