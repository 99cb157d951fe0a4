"""The local engine: one process, the model in the calling thread, ``workers`` threads ahead of it.

Each worker thread runs the CPU half of its chunks (:func:`harness.pipeline.chunks.prepare_chunk`:
decode, skin tone, masks, perturbations, achieved measures) into a bounded queue; the calling
thread takes the items in chunk order and runs the model on them, so that while the model works
on one chunk the next ones are being prepared. Worker ``w`` takes chunks ``w, w + workers, ...``
and the chunks come out in order whatever the number of workers. OpenCV, Pillow, numpy's large
kernels and TensorFlow release Python's GIL, so the threads overlap.

Memory is bounded by the workers and the queue depth, not by the dataset: each worker holds one
chunk's images and masks and at most :data:`QUEUE_DEPTH` variant parts waiting for the model.
"""
from __future__ import annotations

import queue
import threading
from collections.abc import Iterator

from harness.cache import ArrayCache
from harness.pipeline.chunks import ChunkJob, ChunkResult, collect_chunk, prepare_chunk

#: Items (a chunk's head or one variant part) a worker may have ready ahead of the model.
QUEUE_DEPTH = 2
_END = object()  # a chunk's last item


class LocalEngine:
    """Run an audit's chunks in this process (see the module docstring)."""

    name = "local"

    def __init__(self, *, workers: int = 2):
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers!r}")
        self.workers = workers

    def describe(self) -> dict:
        return {"name": self.name, "workers": self.workers}

    def close(self) -> None:
        """Nothing to release: the worker threads end with each run."""

    def run(self, job: ChunkJob, chunks: list[list[int]], *, model,
            cache: ArrayCache) -> Iterator[ChunkResult]:
        """The chunks' results, in chunk order."""
        n_workers = max(1, min(self.workers, len(chunks)))
        queues = [queue.Queue(maxsize=QUEUE_DEPTH) for _ in range(n_workers)]
        stop = threading.Event()

        def put(q: queue.Queue, item) -> bool:
            while not stop.is_set():
                try:
                    q.put(item, timeout=0.1)
                    return True
                except queue.Full:
                    continue
            return False

        def work(w: int) -> None:
            q = queues[w]
            try:
                for c in range(w, len(chunks), n_workers):
                    for item in prepare_chunk(job, chunks[c], model=model, cache=cache):
                        if not put(q, item):
                            return
                    if not put(q, _END):
                        return
            except BaseException as exc:  # handed to the consumer, raised there
                put(q, _Failed(exc))

        threads = [threading.Thread(target=work, args=(w,), name=f"audit-worker-{w}",
                                    daemon=True) for w in range(n_workers)]
        for t in threads:
            t.start()
        try:
            for c in range(len(chunks)):
                yield self._consume(queues[c % n_workers], job=job, model=model, cache=cache)
        finally:
            stop.set()
            for t in threads:
                t.join()

    @staticmethod
    def _consume(q: queue.Queue, *, job: ChunkJob, model, cache: ArrayCache) -> ChunkResult:
        def items():
            while (item := q.get()) is not _END:
                if isinstance(item, _Failed):
                    raise item.exc
                yield item
        return collect_chunk(items(), model=model, cache=cache, batch_size=job.batch_size)


class _Failed:
    def __init__(self, exc: BaseException):
        self.exc = exc
