"""tools.seaweed.free_ports: the ports a cluster hands its services."""

from __future__ import annotations

import socket

from tools import seaweed


def test_ports_chosen_in_one_call_are_all_different_and_free() -> None:
    ports = seaweed.free_ports(12)
    assert len(set(ports)) == 12
    for port in ports:  # free: each can be bound now
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", port))


def test_a_port_to_avoid_is_never_handed_out() -> None:
    """A restarted worker must not take the port of a service that is down at that moment (the api-server,
    restarting after a PostgreSQL outage, owns its port though nothing listens there)."""
    taken = seaweed.free_ports(40)
    for _ in range(5):
        assert not set(seaweed.free_ports(3, avoid=taken)) & set(taken)
