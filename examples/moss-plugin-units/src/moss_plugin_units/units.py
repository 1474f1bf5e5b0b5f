"""Units and conversions, free of any moss-agent code so they can be tested on their own.

Every unit is an affine map to its dimension's base unit: ``base = value * factor + offset``.
Only temperatures have an offset; everything else is a plain factor.

    >>> to_unit(5, "km", "miles")
    3.1068559611866697
"""

from __future__ import annotations

from dataclasses import dataclass


class ConversionError(ValueError):
    """The request cannot be converted; the message says what would work."""


@dataclass(frozen=True)
class Unit:
    dimension: str
    factor: float  # base units per unit
    offset: float = 0.0


_F = 5 / 9
# One table, read as: dimension, base units per unit, then every spelling of the unit.
_TABLE: list[tuple[str, float, tuple[str, ...]]] = [
    ("length", 1.0, ("m", "meter", "meters", "metre", "metres")),
    ("length", 1e3, ("km", "kilometer", "kilometers", "kilometre", "kilometres")),
    ("length", 1e-2, ("cm", "centimeter", "centimeters", "centimetre", "centimetres")),
    ("length", 1e-3, ("mm", "millimeter", "millimeters", "millimetre", "millimetres")),
    ("length", 1609.344, ("mi", "mile", "miles")),
    ("length", 0.9144, ("yd", "yard", "yards")),
    ("length", 0.3048, ("ft", "foot", "feet")),
    ("length", 0.0254, ("in", "inch", "inches")),
    ("length", 1852.0, ("nmi", "nautical mile", "nautical miles")),
    ("mass", 1.0, ("kg", "kilogram", "kilograms")),
    ("mass", 1e-3, ("g", "gram", "grams")),
    ("mass", 1e-6, ("mg", "milligram", "milligrams")),
    ("mass", 1e3, ("t", "tonne", "tonnes", "metric ton", "metric tons")),
    ("mass", 0.45359237, ("lb", "lbs", "pound", "pounds")),
    ("mass", 0.028349523125, ("oz", "ounce", "ounces")),
    ("mass", 6.35029318, ("st", "stone", "stones")),
    ("time", 1.0, ("s", "sec", "secs", "second", "seconds")),
    ("time", 1e-3, ("ms", "millisecond", "milliseconds")),
    ("time", 60.0, ("min", "mins", "minute", "minutes")),
    ("time", 3600.0, ("h", "hr", "hrs", "hour", "hours")),
    ("time", 86400.0, ("d", "day", "days")),
    ("time", 604800.0, ("wk", "week", "weeks")),
    ("time", 31557600.0, ("yr", "year", "years")),  # Julian year, 365.25 days
    ("volume", 1e-3, ("l", "liter", "liters", "litre", "litres")),
    ("volume", 1e-6, ("ml", "milliliter", "milliliters", "millilitre", "millilitres")),
    ("volume", 1.0, ("m3", "m^3", "cubic meter", "cubic meters", "cubic metre", "cubic metres")),
    ("volume", 3.785411784e-3, ("gal", "gallon", "gallons")),  # US
    ("volume", 9.46352946e-4, ("qt", "quart", "quarts")),
    ("volume", 4.73176473e-4, ("pt", "pint", "pints")),
    ("volume", 2.365882365e-4, ("cup", "cups")),
    ("volume", 2.95735295625e-5, ("fl oz", "fluid ounce", "fluid ounces")),
    ("area", 1.0, ("m2", "m^2", "sq m", "square meter", "square meters", "square metre")),
    ("area", 1e6, ("km2", "km^2", "sq km", "square kilometer", "square kilometers")),
    ("area", 1e4, ("ha", "hectare", "hectares")),
    ("area", 4046.8564224, ("acre", "acres")),
    ("area", 0.09290304, ("ft2", "ft^2", "sq ft", "square foot", "square feet")),
    ("area", 2589988.110336, ("mi2", "mi^2", "sq mi", "square mile", "square miles")),
    ("speed", 1.0, ("m/s", "meters per second", "metres per second")),
    ("speed", 1 / 3.6, ("km/h", "kmh", "kph", "kilometers per hour", "kilometres per hour")),
    ("speed", 0.44704, ("mph", "miles per hour")),
    ("speed", 1852 / 3600, ("kn", "kt", "knot", "knots")),
    ("speed", 0.3048, ("ft/s", "feet per second")),
    ("energy", 1.0, ("j", "joule", "joules")),
    ("energy", 1e3, ("kj", "kilojoule", "kilojoules")),
    ("energy", 4.184, ("cal", "calorie", "calories")),
    ("energy", 4184.0, ("kcal", "kilocalorie", "kilocalories")),
    ("energy", 3600.0, ("wh", "watt hour", "watt hours")),
    ("energy", 3.6e6, ("kwh", "kilowatt hour", "kilowatt hours")),
    ("data", 1.0, ("b", "byte", "bytes")),
    ("data", 1e3, ("kb", "kilobyte", "kilobytes")),
    ("data", 1e6, ("mb", "megabyte", "megabytes")),
    ("data", 1e9, ("gb", "gigabyte", "gigabytes")),
    ("data", 1e12, ("tb", "terabyte", "terabytes")),
    ("data", 2.0**10, ("kib", "kibibyte", "kibibytes")),
    ("data", 2.0**20, ("mib", "mebibyte", "mebibytes")),
    ("data", 2.0**30, ("gib", "gibibyte", "gibibytes")),
]

UNITS: dict[str, Unit] = {
    name: Unit(dimension, factor) for dimension, factor, names in _TABLE for name in names
}
for _names, _offset, _factor in (
    (("c", "°c", "celsius", "degrees celsius", "degree celsius"), 273.15, 1.0),
    (("f", "°f", "fahrenheit", "degrees fahrenheit", "degree fahrenheit"), 273.15 - 32 * _F, _F),
    (("k", "kelvin", "kelvins"), 0.0, 1.0),
):
    for _name in _names:
        UNITS[_name] = Unit("temperature", _factor, _offset)


def lookup(name: str) -> Unit:
    """The unit called ``name`` (any case, extra spaces and a final period ignored).

    >>> lookup("Miles").dimension
    'length'
    """
    key = " ".join(name.strip().rstrip(".").split()).lower()
    if key.startswith("degrees "):  # "degrees C" as well as "degrees Celsius"
        key = {"degrees c": "c", "degrees f": "f"}.get(key, key)
    try:
        return UNITS[key]
    except KeyError:
        raise ConversionError(
            f"Unknown unit {name.strip()!r}. Known units include km, mi, ft, kg, lb, oz, L, gal, "
            "°C, °F, K, km/h, mph, kWh, kcal, MB, GiB, hours and acres."
        ) from None


def to_unit(value: float, source: str, target: str) -> float:
    """Convert ``value`` from unit ``source`` to unit ``target``.

    >>> round(to_unit(100, "°C", "°F"), 9)
    212.0
    """
    a, b = lookup(source), lookup(target)
    if a.dimension != b.dimension:
        raise ConversionError(
            f"Cannot convert {source.strip()} ({a.dimension}) to {target.strip()} "
            f"({b.dimension}): both units must measure the same thing."
        )
    return ((value * a.factor + a.offset) - b.offset) / b.factor
