"""One SNTP query (RFC 4330), for a board whose `time` module cannot be set (clock.py)."""
import socket
import struct

NTP_1970 = 2208988800  # seconds from NTP's epoch, 1900, to 1970


def sntp_ms(host="pool.ntp.org", timeout_s=1, port=123):
    """Unix milliseconds by one SNTP query (RFC 4330)."""
    where = socket.getaddrinfo(host, port)[0][-1]
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.settimeout(timeout_s)
        query = bytearray(48)
        query[0] = 0x1B  # version 3, a client
        s.sendto(query, where)
        answer = s.recv(48)
    finally:
        s.close()
    seconds, fraction = struct.unpack("!II", answer[40:48])
    return (seconds - NTP_1970) * 1000 + (fraction * 1000 >> 32)
