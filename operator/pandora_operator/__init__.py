"""The control path: a kopf operator that turns `Recording` resources (crds/) into recorder pods.

Modules, each with one job:

``model``      what the operator derives from a Recording: finalizer, pod labels, pod name per attempt, recording id
``views``      compact snapshots of Recordings and recorder pods, as kept in kopf's indexes
``config``     operator settings from the environment (set by the Helm chart)
``podspec``    the recorder pod: Dapr annotations and shutdown ordering, token by secretKeyRef, restricted
               security context, resources, the ``pandora record`` command line and environment
``claims``     one active Recording per voice channel, one per (guild, bot); rebuilt from statuses on restart
``botpool``    the bot pool Secret (key names only) and the choice of a free bot
``status``     status writes (merge patches, with an overlay of the operator's latest word) and Events
``reconcile``  the level-triggered reconciler every trigger runs
``sweeper``    the one periodic task: Pending Recordings and maxDuration
``kube``       ``KubeApi``, the handful of API calls the operator makes, and their implementation
``handlers``   the kopf handlers: indexes, Recording events, pod events, startup settings

What it shares with recorder pods and front doors (the Recording's API, spec and status, the recorder's
environment and command line, the storage location) is ``pandora.recording_api``. A front door creates a
Recording with ``spec.guildId`` and ``spec.voiceChannelId`` (17-20 digit strings) and ``spec.requestedBy.source``,
and stops it with ``spec.stop: true`` (or deletes it). Recorder pods report progress with
``pandora_recorder.report.StatusReporter``.
"""
