"""One pacing rule for every IDENTIFY a Pandora process sends: the recorder, ``pandora bot``, the front door.

Discord counts IDENTIFYs per application: ``max_concurrency`` per 5 s, one per bucket ``shard_id % max_concurrency``
(op 9 beyond), and ``total`` (1000) per 24 h, whose last one resets the bot token and ends every session. RESUME
counts for neither. discord.py resumes on its own when a connection drops within a process; a new process
cannot resume the session of the one before it (discord.py builds its guild cache from READY and GUILD_CREATE,
which only an IDENTIFY brings), so every process start IDENTIFYs, and comes through here first.

``limits``    the session start limit ``GET /gateway/bot`` reports, and the reserve a process leaves untouched
``slots``     IDENTIFY slots per token and bucket, reserved by every process that shares the slot store
``dapr_slots`` the same slots in a Dapr state store (recorder pods and the Kubernetes front door)
``restarts``  crash restarts: how long the next start of one recorder (or bot) waits, from its start history
``pacer``     all three before a process's first IDENTIFY, and discord.py's ``before_identify_hook`` for the rest
"""
