"""Importing a city's MDS Policy and Geography into zones: ``documents`` (parse and validate against the MDS
schemas), ``mapping`` (documents -> a plan, pure), ``fetch`` (file or URL). The reads and writes are
``fleet.selectors.policy_import`` and ``fleet.services.policy_import``; docs/geofence.md explains the mapping."""
