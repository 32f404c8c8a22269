"""The front doors: Discord commands (``!record`` / ``/record``) and Dapr pub/sub messages in, recordings out,
every outcome answered.

A command travels one way through these modules:

``bot``         the discord.py client: text commands (``on_message``) and slash commands (a command tree), turned
                into plain facts (``bot.views``) and answered in the channel or through the interaction
                (``bot.responders``)
``parsing``     ``<prefix>record [#channel|id]``, ``<prefix>end``, ``<prefix>status``
``access``      who may start and end (Manage Server or an access role; the starter may always end)
``desk``        the command logic: checks, one ``RecordRequest``, the reply for every outcome
``replies``     every text a user reads
``recordings``  the one interface to whatever records: ``Recordings`` with ``start``/``stop``/``active``/
                ``on_ended``, and its request, outcome and summary types
``local``       ``LocalRecordings``: records in this process with the recorder session (``pandora bot``)
``kube``        ``KubernetesRecordings``: creates, stops and watches ``Recording`` resources (``pandora frontdoor``)
``pubsub``      the Dapr pub/sub bridge: the original Pandora's topics and acks, on the same ``Recordings``
``config``      the environment: the original Pandora's variables and ours
``commands``    ``pandora bot`` and ``pandora frontdoor``

Import rule (checked by a test): nothing here imports the operator, and the Kubernetes path (``kube``, ``pubsub``,
``commands.frontdoor`` and what they use) never imports the recorder; only ``local`` and ``commands.bot`` do.
"""
