"""Coarse time: the database keeps hours and days, never the moment of an event.

Token expiry is the one exact time stored, because it is compared with the
clock; it says when a login happened only to within the token lifetime.
"""

import time

HOUR = 3600
DAY = 86400


def now() -> int:
    return int(time.time())


def this_hour() -> int:
    return now() // HOUR * HOUR


def today() -> int:
    return now() // DAY * DAY
