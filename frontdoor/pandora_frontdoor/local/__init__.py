"""Recording in the front door's own process (``pandora bot``): the recorder session, a local folder or Dapr,
and the list of running recordings that a restart continues."""
