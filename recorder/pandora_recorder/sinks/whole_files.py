"""The five whole files of an ended recording, at the object store's root: what the original Pandora's cooking
server reads.

That server lists the prefix ``String(id)`` and saves every key it finds as a local file name, so it can read
neither chunk objects nor anything under a folder: it needs ``<id>.ogg.data``, ``.header1``, ``.header2``,
``.info`` and ``.users`` whole, at the bucket root. The chunks stay where they are (they are what keeps a live
recording crash-safe, and what ``pandora fetch`` reads); once the recording has ended, each file is read back
from them and put whole beside them.

One object is one binding request, so the largest file (``.data``) must fit daprd's request-size limit
(``--max-body-size``, 4 MiB by default; base64 makes the request a third larger than the file). A file that does
not fit is logged as an error and left out; the chunks are complete either way.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from pandora.logging import get_logger
from pandora_recorder.raw.format import FILE_KINDS, file_name
from pandora_recorder.sinks.base import Sink
from pandora_recorder.sinks.chunked import ChunkedObjectSink

log = get_logger(__name__)

ENV_WHOLE_FILES = "PANDORA_WHOLE_FILES"  # "off": chunks only


@dataclass
class WholeFiles:
    written: dict[str, int] = field(default_factory=dict)  # key -> bytes
    failed: dict[str, str] = field(default_factory=dict)  # key -> why

    @property
    def complete(self) -> bool:
        return len(self.written) == len(FILE_KINDS) and not self.failed


def whole_files_enabled(environ: Mapping[str, str] | None = None) -> bool:
    environ = os.environ if environ is None else environ
    return environ.get(ENV_WHOLE_FILES, "").strip().lower() not in ("off", "false", "0", "no")


def write_whole_files(sink: Sink, recording_id: int) -> WholeFiles | None:
    """Put the recording's five files whole at the root of the sink's object store (None: not an object store,
    or switched off with ``PANDORA_WHOLE_FILES=off``). Call once the recording has ended, before ``sink.close()``."""
    if not isinstance(sink, ChunkedObjectSink) or not whole_files_enabled():
        return None
    sink.flush()
    result = WholeFiles()
    for kind in FILE_KINDS:
        name = file_name(recording_id, kind)
        try:
            size = sink.size(name)
            sink.objects.put(name, sink.read(name))  # no reference kept here: put frees the file once encoded
        except Exception as error:  # one file that does not fit must not keep the others out
            result.failed[name] = str(error)
            log.error("whole file not written; the recording's chunks are complete (pandora fetch reads them)",
                      key=name, bytes=sink.size(name), error=str(error)[:300])
            continue
        result.written[name] = size
    log.info("whole files written", recording_id=recording_id, files=result.written, failed=sorted(result.failed))
    return result
