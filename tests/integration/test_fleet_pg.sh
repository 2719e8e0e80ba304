#!/usr/bin/env bash
# test-runner: long (five one-minute schedule periods of wall-clock waiting)
# test-store: own (test_fleet.sh with FLEET_STORE=postgresql: its own PostgreSQL store)
# test_fleet.sh with the store on PostgreSQL (issue 15): the same three brokers, the same
# assertions, the store a schema of the throwaway cluster (leadership: a session advisory
# lock; changes: LISTEN/NOTIFY behind data_version).
FLEET_STORE=postgresql exec bash "$(dirname "$0")/test_fleet.sh"
