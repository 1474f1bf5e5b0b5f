"""moss-plugin-units: a unit converter for moss-agent, packaged as a third-party plugin.

Install it next to moss-agent and every Agent, the CLI and the demo offer ``Convert``::

    pip install ./examples/moss-plugin-units
    moss-agent call 'Convert("5 km to miles")'

This package's ``__init__`` imports nothing from moss-agent: the plugin registers when
moss-agent discovers the entry point (``moss_plugin_units.plugin``), not on a bare import.
"""

from moss_plugin_units.units import ConversionError, lookup, to_unit

__all__ = ["ConversionError", "lookup", "to_unit"]
__version__ = "0.1.0"
