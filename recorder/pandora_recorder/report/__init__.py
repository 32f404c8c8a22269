"""Progress reports from a recorder pod to its `Recording.status`.

Why the recorder patches the status subresource itself (rather than the operator collecting progress):

* latency and scale: a report is one PATCH from the pod the moment it has news; the operator would otherwise
  have to poll a thousand pods, and would need network reach into every recorder pod;
* least privilege stays narrow: the recorder's ServiceAccount may only ``get``/``patch``
  ``recordings/status`` in its own namespace (the chart's ``pandora-recorder`` Role): no spec, no pods, no
  Secrets. RBAC cannot name "my own Recording", so the chart adds a ValidatingAdmissionPolicy: the recorder's
  token is bound to its pod, and a recorder may patch only the Recording whose ``status.pod`` is that pod, and
  only the progress fields (speakers, speakerCount, bytes, duration, progressAt). The operator remains the only
  writer of lifecycle fields (phase, pod, bot, ...); both use merge patches, so neither overwrites the other;
* no new dependency: one HTTP PATCH with aiohttp (already in the recorder image) instead of a Kubernetes client.

Outside a pod (no ``PANDORA_RECORDING_NAME`` or no service-account token) ``StatusReporter.from_env()``
returns a reporter that does nothing, so the standalone recorder needs no special case.

Usage from ``pandora record``::

    reporter = StatusReporter.from_env()
    await reporter.report(Progress(duration_seconds=12.5, bytes_written=40960,
                                   speakers=[SpeakerTrack(id="1234...", name="alice", track=1)]))
    await reporter.close()   # sends the last progress, even if it was throttled
"""

from pandora_recorder.report.progress import Progress, SpeakerTrack
from pandora_recorder.report.reporter import KubernetesStatusReporter, NoopReporter, StatusReporter

__all__ = ["KubernetesStatusReporter", "NoopReporter", "Progress", "SpeakerTrack", "StatusReporter"]
