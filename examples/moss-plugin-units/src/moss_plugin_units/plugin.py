"""The ``Convert`` plugin: the model writes ``Convert("5 km to miles")`` and reads
``Convert("5 km to miles") => '5 km = 3.10686 miles'``.

Importing this module registers the plugin; the ``moss_agent.plugins`` entry point in this
package's ``pyproject.toml`` names this module, so moss-agent imports it on discovery.
"""

from __future__ import annotations

import re
from decimal import Decimal

from moss_plugin_units.units import ConversionError, to_unit
from plugins import plugin

# "5 km to miles", "-40 °F in °C", "1,200.5 ft -> m", "km to mi" (the number defaults to 1).
_REQUEST = re.compile(
    r"^\s*(?P<number>[-+]?(?:\d[\d,_]*(?:\.\d*)?|\.\d+)(?:e[-+]?\d+)?)?\s*"
    r"(?P<source>.+?)\s+(?:to|in|into|as|->|=>)\s+(?P<target>.+?)\s*\??\s*$",
    re.IGNORECASE,
)
SIGNIFICANT_DIGITS = 6


def format_number(x: float) -> str:
    """``x`` to six significant digits (more where the whole part has more digits: rounding
    1609344 to 1609340 would only mislead), without an exponent for everyday magnitudes.

    >>> format_number(3.1068559611866697), format_number(1609344.0), format_number(1e-7)
    ('3.10686', '1609344', '1e-07')
    """
    if x == 0:
        return "0"
    whole_digits = len(str(int(abs(x)))) if abs(x) >= 1 else 0
    rounded = float(f"{x:.{max(SIGNIFICANT_DIGITS, whole_digits)}g}")
    if not 1e-4 <= abs(rounded) < 1e15:
        return f"{rounded:.{SIGNIFICANT_DIGITS}g}"
    text = format(Decimal(repr(rounded)), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


@plugin("Convert", label="Unit converter", api="Convert(quantity)", timeout=2.0)
def convert(quantity: str) -> str:
    """Convert a quantity between units, e.g. "5 km to miles" or "98.6 °F to °C".

    Lengths, masses, times, volumes, areas, speeds, energies, data sizes and temperatures.

    >>> convert("5 km to miles")
    '5 km = 3.10686 miles'
    """
    m = _REQUEST.match(quantity)
    if m is None:
        raise ConversionError(
            f'Write the conversion as "<number> <unit> to <unit>", e.g. "5 km to miles"; '
            f"got {quantity!r}."
        )
    number = m["number"] or "1"
    value = float(number.replace(",", "").replace("_", ""))
    result = to_unit(value, m["source"], m["target"])
    return f"{format_number(value)} {m['source']} = {format_number(result)} {m['target']}"
