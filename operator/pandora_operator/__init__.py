"""The control path: a kopf operator that turns `Recording` resources (crds/) into recorder pods.

Modules, each with one job:

``model``      the CRD's coordinates, phases, spec reading and derived names (pod per attempt, recording id)
``views``      compact snapshots of Recordings and recorder pods, as kept in kopf's indexes
``config``     operator settings from the environment (set by the Helm chart)
``podspec``    the recorder pod: Dapr annotations and shutdown ordering, token by secretKeyRef, restricted
               security context, resources, the ``pandora record`` command
``claims``     one active Recording per voice channel, one per (guild, bot); rebuilt from statuses on restart
``botpool``    the bot pool Secret (key names only) and the choice of a free bot
``status``     status writes (merge patches, with an overlay of the operator's latest word) and Events
``reconcile``  the level-triggered reconciler every trigger runs
``sweeper``    the one periodic task: Pending Recordings and maxDuration
``kube``       the handful of API calls the operator makes
``handlers``   the kopf handlers: indexes, Recording events, pod events, startup settings

Interfaces other parts rely on: API ``pandora.dev/v1alpha1``, kind ``Recording`` (plural ``recordings``,
short name ``rec``); a front door creates one with ``spec.guildId`` and ``spec.voiceChannelId`` (17-20 digit
strings) and ``spec.requestedBy.source``, and stops it with ``spec.stop: true`` (or deletes it). Recorder pods
get ``PANDORA_RECORDING_NAME``/``PANDORA_RECORDING_NAMESPACE`` and report progress with
``pandora_recorder.report.StatusReporter``.
"""
